import GRDB

/// The store's schema, as SQL. Migrations are history: once shipped, one is never edited; a
/// change to the schema is a new migration appended here.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                -- Facts about this device and store: format, device id, personal space, clock.
                CREATE TABLE store_meta (
                    key   TEXT PRIMARY KEY NOT NULL,
                    value BLOB NOT NULL
                ) STRICT;

                -- The device's secrets, sealed with a key derived from the passphrase (Argon2id,
                -- parameters stored beside them). One row.
                CREATE TABLE keystore (
                    id             INTEGER PRIMARY KEY CHECK (id = 1),
                    kdf_parameters BLOB NOT NULL,
                    sealed         BLOB NOT NULL
                ) STRICT;

                -- Spaces this device is a member of, and their current key epoch.
                CREATE TABLE spaces (
                    space BLOB PRIMARY KEY NOT NULL,
                    kind  TEXT NOT NULL CHECK (kind IN ('personal', 'couple')),
                    epoch INTEGER NOT NULL
                ) STRICT;

                -- Signed envelopes exactly as produced or received; the daemon pushes these bytes.
                -- (Rowid tables: rows of a kilobyte or more are what WITHOUT ROWID handles badly.)
                CREATE TABLE envelopes (
                    space  BLOB NOT NULL,
                    device BLOB NOT NULL,
                    seq    INTEGER NOT NULL CHECK (seq >= 1),
                    hash   BLOB NOT NULL,
                    bytes  BLOB NOT NULL,
                    pushed INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (space, device, seq)
                ) STRICT;

                -- Member devices of each space and their public keys (public: no passphrase needed
                -- to verify what arrives).
                CREATE TABLE members (
                    space      BLOB NOT NULL,
                    device     BLOB NOT NULL,
                    public_key BLOB NOT NULL,
                    PRIMARY KEY (space, device)
                ) STRICT, WITHOUT ROWID;

                -- Per space and device, the highest seq the relay was ever seen to hold: a relay
                -- that later answers with less has rolled back.
                CREATE TABLE relay_seen (
                    space  BLOB NOT NULL,
                    device BLOB NOT NULL,
                    seq    INTEGER NOT NULL,
                    PRIMARY KEY (space, device)
                ) STRICT, WITHOUT ROWID;

                -- Per space and device, the highest seq applied to the entries. Envelopes stored
                -- above it are waiting to be opened (by an unlocked CLI) or for their causal past.
                CREATE TABLE vectors (
                    space  BLOB NOT NULL,
                    device BLOB NOT NULL,
                    seq    INTEGER NOT NULL,
                    PRIMARY KEY (space, device)
                ) STRICT, WITHOUT ROWID;

                -- The materialised view: each entry's snapshot with full history, sealed with the
                -- storage key (associated data: id and space). Only the random id and times are in
                -- the clear, for lookup and ordering; no journal text is.
                CREATE TABLE entries (
                    id       BLOB NOT NULL UNIQUE,
                    code     TEXT NOT NULL UNIQUE,   -- the id as shown (Crockford base32), for prefixes
                    space    BLOB NOT NULL,
                    created  INTEGER NOT NULL,
                    updated  INTEGER NOT NULL,
                    snapshot BLOB NOT NULL
                ) STRICT;
                CREATE INDEX entries_by_created ON entries (created DESC, id);
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                -- Each space's membership log (SPEC § 6.2), every record verified in order before
                -- it is kept. Public: the daemon verifies arrivals against it with no passphrase,
                -- and the content keys of shared spaces arrive in it, sealed to this device.
                CREATE TABLE membership (
                    space BLOB NOT NULL,
                    idx   INTEGER NOT NULL CHECK (idx >= 1),
                    bytes BLOB NOT NULL,
                    PRIMARY KEY (space, idx)
                ) STRICT, WITHOUT ROWID;

                -- Every device ever certified into a space this device belongs to, kept after
                -- removal so that what it wrote is still shown under the right name.
                CREATE TABLE devices (
                    device     BLOB PRIMARY KEY NOT NULL,
                    public_key BLOB NOT NULL,
                    identity   BLOB NOT NULL,
                    name       TEXT NOT NULL,
                    created    INTEGER NOT NULL,
                    removed    INTEGER
                ) STRICT;

                -- People: this person and, once paired, the partner, with the names they gave.
                -- Names come from this device's keystore or from the pairing exchange (sealed
                -- under the code), never from journal content.
                CREATE TABLE people (
                    identity BLOB PRIMARY KEY NOT NULL,
                    name     TEXT NOT NULL,
                    role     TEXT NOT NULL CHECK (role IN ('me', 'partner'))
                ) STRICT;

                -- Delivery receipts: per space, how far each device (reader) had applied another
                -- device's (author's) changes when it last wrote — every change carries that
                -- vector, so "delivered to Sam's phone" needs no extra message.
                CREATE TABLE receipts (
                    space  BLOB NOT NULL,
                    reader BLOB NOT NULL,
                    author BLOB NOT NULL,
                    seq    INTEGER NOT NULL,
                    PRIMARY KEY (space, reader, author)
                ) STRICT, WITHOUT ROWID;

                -- Per entry and device, the seq of the last change that device made to it.
                CREATE TABLE entry_changes (
                    entry  BLOB NOT NULL,
                    device BLOB NOT NULL,
                    seq    INTEGER NOT NULL,
                    PRIMARY KEY (entry, device)
                ) STRICT, WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                -- A removed device's envelopes up to the seq its removal names were written while it
                -- was a member and still verify (SPEC § 5.3); NULL for a current member. Rows are
                -- rebuilt from the membership log whenever it grows.
                ALTER TABLE members ADD COLUMN last_seq INTEGER;
                """)
        }
        migrator.registerMigration("v4-reply-to") { db in
            try db.execute(sql: """
                -- Which entry each entry answers (its replyTo), so that `show` finds an entry's
                -- replies and `list` counts them without opening every snapshot. The shape of a
                -- thread is in the clear beside the ids, spaces and times already there; no
                -- journal text is. NULL: not a reply. `reply_known` = 0 marks a row saved before
                -- this column, whose reply_to is not yet known (only an unlocked store can open the
                -- snapshot): lookups open those rows too until an unlock fills them in.
                ALTER TABLE entries ADD COLUMN reply_to BLOB;
                ALTER TABLE entries ADD COLUMN reply_known INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX entries_by_reply_to ON entries (reply_to) WHERE reply_to IS NOT NULL;
                CREATE INDEX entries_reply_unknown ON entries (id) WHERE reply_known = 0;
                """)
        }
        return migrator
    }
}
