// libhiredis from Debian's libhiredis-dev: SluiceRedis parses Redis's replies with its reader.
#include <hiredis/hiredis.h>
