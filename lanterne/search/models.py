"""The search index: one `SearchDocument` per searchable object — a dossier
(its title), a mail, a note, a decision, a task, a document of a dossier.

The index is derived data: `lanterne search-reindex` rebuilds it from the
objects, and the write services keep it up to date as they write
(`lanterne.search.services.search_documents_index`). It carries what the
access policy filters on (agency, condominium, dossier, audience) and what
the search page filters on (kind, date), so that a search is one query on
one table plus the policy's joins.

Two texts per document:

- `title`, `body`, `more` — the texts as staff read them (for a mail: its
  subject; its new text; its quoted text, signature and attachment names);
- `public_title`, `public_body`, `public_more` — what readers outside the
  agency are served: for a mail, the texts with personal data masked
  (`publication.message_texts_for`); for the other kinds, the same texts.
  Empty while the object is internal: nobody but staff may find it.

A non-staff search matches and quotes only the public texts: a masked phone
number is neither found nor shown to them.

On PostgreSQL the texts are also stored as weighted `tsvector`s (`vector`,
`public_vector`) in the `lanterne_fr` configuration (French stemming,
accents removed), with GIN indexes (migration 0002). On SQLite an FTS5
table (`search_fts`, same migration) indexes the six texts, kept in step by
triggers."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lanterne.condominiums.models import Agency, Condominium
from lanterne.dossiers.choices import Audience

from .choices import SearchKind


class SearchDocument(models.Model):
    """The searchable text of one object, and what the policy needs to
    decide who may find it.

    Exactly one of the object pointers is set for each kind but `dossier`,
    which is the dossier itself for the kind « dossier » and the dossier an
    object sits in for the others (None for mail in no dossier: staff only).
    `audience` is the object's own audience when it was indexed; the policy
    also compares it with the object's current one, so that a document not
    yet re-indexed after a change of audience hides rather than shows
    (`policy.search_documents_visible_to`)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    condominium = models.ForeignKey(
        Condominium, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    dossier = models.ForeignKey(
        "dossiers.Dossier", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=SearchKind.choices)
    audience = models.CharField(max_length=20, choices=Audience.choices, blank=True)
    date = models.DateTimeField(default=timezone.now)
    message = models.ForeignKey(
        "mail.Message", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    note = models.ForeignKey(
        "dossiers.Note", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    decision = models.ForeignKey(
        "dossiers.Decision", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    task = models.ForeignKey(
        "dossiers.Task", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    title = models.TextField(blank=True)
    body = models.TextField(blank=True)
    more = models.TextField(blank=True)
    public_title = models.TextField(blank=True)
    public_body = models.TextField(blank=True)
    public_more = models.TextField(blank=True)
    # PostgreSQL only (always NULL on SQLite, where search_fts does the work).
    vector = SearchVectorField(null=True, blank=True)
    public_vector = SearchVectorField(null=True, blank=True)

    class Meta:
        verbose_name = _("document de recherche")
        verbose_name_plural = _("documents de recherche")
        constraints = [
            models.UniqueConstraint(
                fields=["dossier"],
                condition=Q(kind=SearchKind.DOSSIER),
                name="search_document_one_per_dossier",
            ),
            models.UniqueConstraint(
                fields=["message"],
                condition=Q(message__isnull=False),
                name="search_document_one_per_message",
            ),
            models.UniqueConstraint(
                fields=["note"],
                condition=Q(note__isnull=False),
                name="search_document_one_per_note",
            ),
            models.UniqueConstraint(
                fields=["decision"],
                condition=Q(decision__isnull=False),
                name="search_document_one_per_decision",
            ),
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(task__isnull=False),
                name="search_document_one_per_task",
            ),
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(document__isnull=False),
                name="search_document_one_per_document",
            ),
        ]
        indexes = [
            # Sorting by date within an agency (staff), a condominium or a dossier.
            models.Index(fields=["agency", "date"], name="search_document_agency_date"),
            models.Index(fields=["condominium", "date"], name="search_document_condo_date"),
            models.Index(fields=["dossier", "date"], name="search_document_dossier_date"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}: {self.title[:60]}"
