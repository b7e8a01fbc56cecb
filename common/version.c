#include <bulkhead/version.h>

unsigned bh_version(void)
{
	return BH_VERSION_HEX;
}

const char *bh_version_string(void)
{
	return BH_VERSION_STRING;
}
