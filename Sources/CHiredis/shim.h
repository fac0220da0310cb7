// libhiredis from Debian's libhiredis-dev: the blocking Redis client SluiceRedis wraps.
#include <hiredis/hiredis.h>
