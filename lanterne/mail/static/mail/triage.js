/* Keyboard shortcuts of the triage inbox (lanterne/mail/triage.py).
 *
 * j / k     next / previous message
 * 1 2 3     file the current message into suggestion 1, 2 or 3
 * a         file it into another dossier (opens the search)
 * n         not dossier-related
 * x         tick / untick it (for the actions on the selection)
 * o         read the whole message
 * ?         show / hide the help
 * Escape    leave a text field
 *
 * Every shortcut presses a button or a link that is on the page anyway: the
 * page works the same without this script, and with it the keyboard and the
 * mouse do exactly the same things. Keys are ignored while typing in a field
 * and when a modifier (Ctrl, Alt, Meta) is held.
 */
(function () {
  "use strict";

  const root = document.getElementById("triage");
  if (!root) {
    return;
  }
  let current = -1;

  function items() {
    return Array.from(root.querySelectorAll("[data-triage-item]"));
  }

  function mark(index) {
    const list = items();
    list.forEach(function (item, position) {
      item.classList.toggle("is-current", position === index);
    });
    current = list.length ? Math.max(0, Math.min(index, list.length - 1)) : -1;
  }

  function select(index) {
    const list = items();
    if (!list.length) {
      current = -1;
      return;
    }
    mark(Math.max(0, Math.min(index, list.length - 1)));
    const item = list[current];
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }

  function currentItem() {
    const list = items();
    const focused = document.activeElement && document.activeElement.closest("[data-triage-item]");
    if (focused && root.contains(focused)) {
      mark(list.indexOf(focused));
      return focused;
    }
    return current >= 0 && current < list.length ? list[current] : null;
  }

  function isTextEntry(element) {
    if (!element || !element.closest) {
      return false;
    }
    if (element.isContentEditable || element.closest("textarea, select")) {
      return true;
    }
    const input = element.closest("input");
    return Boolean(input) && !["checkbox", "radio", "button", "submit", "reset"].includes(input.type);
  }

  function press(item, selector) {
    const target = item && item.querySelector(selector);
    if (!target) {
      return false;
    }
    target.click();
    return true;
  }

  function openDetails(item, selector, focusSelector) {
    const details = item && item.querySelector(selector);
    if (!details) {
      return false;
    }
    details.open = true;
    const field = focusSelector ? details.querySelector(focusSelector) : details.querySelector("summary");
    if (field) {
      field.focus();
    }
    return true;
  }

  function toggleHelp() {
    const help = document.getElementById("triage-help");
    if (help) {
      help.open = !help.open;
      if (help.open) {
        help.querySelector("summary").focus();
      }
    }
    return true;
  }

  root.addEventListener("focusin", function (event) {
    const item = event.target.closest("[data-triage-item]");
    if (item) {
      mark(items().indexOf(item));
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (isTextEntry(event.target)) {
      if (event.key === "Escape") {
        const item = event.target.closest("[data-triage-item]");
        event.target.blur();
        if (item) {
          item.focus();
        }
        event.preventDefault();
      }
      return;
    }
    let handled = false;
    switch (event.key) {
      case "j":
        select(current + 1);
        handled = true;
        break;
      case "k":
        select(current <= 0 ? 0 : current - 1);
        handled = true;
        break;
      case "1":
      case "2":
      case "3":
        handled = press(currentItem(), '[data-shortcut="' + event.key + '"]');
        break;
      case "n":
        handled = press(currentItem(), '[data-shortcut="n"]');
        break;
      case "x": {
        const box = currentItem() && currentItem().querySelector("[data-select]");
        if (box) {
          box.checked = !box.checked;
          handled = true;
        }
        break;
      }
      case "a":
        handled = openDetails(currentItem(), "[data-picker]", "[data-picker-input]");
        break;
      case "o":
        handled = openDetails(currentItem(), "[data-read]", null);
        break;
      case "?":
        handled = toggleHelp();
        break;
      default:
        break;
    }
    if (handled) {
      event.preventDefault();
    }
  });

  // After an action, the list comes back without the messages just handled:
  // carry on with the one that took the place of the message acted on. This
  // waits for htmx to settle, not just to swap: htmx wires the new items'
  // own attributes (the "o" reader loads on toggle) only when it settles, and
  // a shortcut pressed on an item it has not wired yet would do nothing.
  let resumeAt = null;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.target === root) {
      const item = event.detail.elt.closest && event.detail.elt.closest("[data-triage-item]");
      resumeAt = item ? items().indexOf(item) : current;
    }
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target === root && resumeAt !== null) {
      const index = resumeAt;
      resumeAt = null;
      if (items().length) {
        select(index < 0 ? 0 : index);
      } else {
        current = -1;
        const status = document.getElementById("triage-status");
        if (status) {
          status.setAttribute("tabindex", "-1");
          status.focus();
        }
      }
    }
  });
})();
