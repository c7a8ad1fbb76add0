#include "harness.h"
void bench_transfer(void)
{
}
