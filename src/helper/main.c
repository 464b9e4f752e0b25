/* bootscale-pool: the worker pool's fork server (see src/pool.h). Built by
 * src/Makevars from the package's own objects, linking nothing of R, and
 * installed into the package's bin directory by src/install.libs.R. Only
 * R's bootscale starts it, with the descriptors described in pool.h. */
#include "../pool.h"

int main(int argc, char **argv) { return pool_helper_main(argc, argv); }
