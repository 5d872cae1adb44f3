// anarcho-bench selftest (the generator checked on a temporary redis-server,
// plain and TLS) and calibrate (the generator against redis-benchmark).
#pragma once

namespace bench {

int SelfTest();
int Calibrate();

}  // namespace bench
