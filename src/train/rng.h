/* The RNG is the runtime's now: include "clgan/rng.h". This forwarding header
 * keeps the includes of files not yet switched building. */
#include "clgan/rng.h"
