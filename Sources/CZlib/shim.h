// The door to zlib. Only DuetStore imports this module (ImportRulesTests enforces it): it
// compresses entry snapshots before sealing them at rest. DuetCore's canonical encoding stays
// free of it, so two replicas' canonical bytes never depend on a zlib version.
#ifndef DUET_CZLIB_SHIM_H
#define DUET_CZLIB_SHIM_H

#include <zlib.h>

#endif
