"""Reads on follows: who follows a dossier, whether a login follows one, and
which dossiers a login follows. Visibility itself is the access policy's
(`lanterne.dossiers.policy`): following a dossier says who *wants* news of it,
the policy says who may have them, and both are asked."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from lanterne.condominiums.models import CouncilMembership, Ownership, Person
from lanterne.dossiers import policy
from lanterne.dossiers.models import Dossier

from .models import Follow


def implicit_follower_ids(dossier: Dossier) -> set[int]:
    """The active logins concerned by `dossier` without having asked: the
    persons named on it, the owners of its lots, the council members of its
    condominium and its manager (one query)."""
    concerned = (
        Q(pk__in=dossier.party_persons.values("pk"))
        | Q(pk__in=Ownership.objects.filter(lot__dossiers=dossier).values("person_id"))
        | Q(
            pk__in=CouncilMembership.objects.filter(condominium_id=dossier.condominium_id).values(
                "person_id"
            )
        )
    )
    if dossier.manager_id is not None:
        concerned |= Q(pk=dossier.manager_id)
    return set(
        Person.objects.filter(concerned, user__isnull=False, user__is_active=True).values_list(
            "user_id", flat=True
        )
    )


def followers_of(dossier: Dossier) -> set[int]:
    """The ids of the logins following `dossier`: the implicit followers minus
    those who unfollowed it, plus those who chose to follow it (two queries).

    Following is a wish, not a right: whoever is told about an entry is still
    checked against the access policy, entry by entry."""
    choices = dict(Follow.objects.filter(dossier=dossier).values_list("user_id", "following"))
    followers = implicit_follower_ids(dossier)
    followers.difference_update(user_id for user_id, following in choices.items() if not following)
    followers.update(user_id for user_id, following in choices.items() if following)
    return followers


def is_implicitly_concerned(viewer: policy.Viewer, dossier: Dossier) -> bool:
    """`implicit_follower_ids` for one viewer, from what the viewer and the
    dossier already hold (no query when the dossier's parties are prefetched,
    as `dossiers.selectors.dossier_for_viewer` does)."""
    if viewer.is_anonymous:
        return False
    return (
        dossier.condominium_id in viewer.council_condominium_ids
        or (dossier.manager_id is not None and dossier.manager_id in viewer.person_ids)
        or any(person.pk in viewer.person_ids for person in dossier.party_persons.all())
        or any(lot.pk in viewer.owned_lot_ids for lot in dossier.party_lots.all())
    )


def is_following(viewer: policy.Viewer, dossier: Dossier) -> bool:
    """Whether `viewer` follows `dossier` (one query: their explicit choice)."""
    if viewer.user_id is None:
        return False
    choice = (
        Follow.objects.filter(user_id=viewer.user_id, dossier=dossier)
        .values_list("following", flat=True)
        .first()
    )
    if choice is not None:
        return choice
    return is_implicitly_concerned(viewer, dossier)


def dossiers_followed_by(viewer: policy.Viewer) -> QuerySet[Dossier]:
    """The dossiers `viewer` may see and follows, implicitly or by choice,
    open ones first then newest first."""
    if viewer.user_id is None:
        return Dossier.objects.none()
    concerned = Dossier.objects.filter(
        Q(party_persons__in=viewer.person_ids)
        | Q(party_lots__in=viewer.owned_lot_ids)
        | Q(condominium_id__in=viewer.council_condominium_ids)
        | Q(manager_id__in=viewer.person_ids)
    ).values("pk")
    choices = Follow.objects.filter(user_id=viewer.user_id)
    chosen = choices.filter(following=True).values("dossier_id")
    refused = choices.filter(following=False).values("dossier_id")
    return (
        policy.dossiers_visible_to(viewer)
        .filter(Q(pk__in=concerned) | Q(pk__in=chosen))
        .exclude(pk__in=refused)
        .select_related("condominium")
        .order_by(F("closed_on").asc(nulls_first=True), "-opened_on", "-id")
    )
