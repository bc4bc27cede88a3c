"""Where mail comes from: one module per kind of source (IMAP mailboxes first)."""
