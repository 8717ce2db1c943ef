/* unit-sigv4.c - placeholder, filled below */
#include "config.h"
#include "tap.h"
int
main(void)
{
	return done_testing();
}
