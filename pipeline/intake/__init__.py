"""Where reports come in (the inbox folder; the mailbox) and where answers go out."""
