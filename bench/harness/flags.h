// anarcho-bench's flags (defined in flags.cc, shared by its subcommands) and
// what they make: the workload, the load options and the systems to start.
#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "bench/harness/load_generator.h"
#include "bench/harness/systems.h"
#include "bench/harness/workload.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(std::string, workload);
ABSL_DECLARE_FLAG(int, connections);
ABSL_DECLARE_FLAG(int, pipeline);
ABSL_DECLARE_FLAG(double, rate);
ABSL_DECLARE_FLAG(uint64_t, keyspace);
ABSL_DECLARE_FLAG(double, zipf);
ABSL_DECLARE_FLAG(int, value_size);
ABSL_DECLARE_FLAG(std::string, values);
ABSL_DECLARE_FLAG(double, duration);
ABSL_DECLARE_FLAG(uint64_t, requests);
ABSL_DECLARE_FLAG(double, warmup);
ABSL_DECLARE_FLAG(bool, preload);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, format);
ABSL_DECLARE_FLAG(bool, progress);
ABSL_DECLARE_FLAG(std::string, timeseries);
ABSL_DECLARE_FLAG(std::string, timeseries_dir);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, systems);
ABSL_DECLARE_FLAG(std::string, workloads);
ABSL_DECLARE_FLAG(int, rounds);
ABSL_DECLARE_FLAG(std::string, out_dir);
ABSL_DECLARE_FLAG(bool, curve);
ABSL_DECLARE_FLAG(std::string, curve_workload);
ABSL_DECLARE_FLAG(std::string, curve_fractions);
ABSL_DECLARE_FLAG(int, curve_probe_pipeline);
ABSL_DECLARE_FLAG(double, curve_duration);
ABSL_DECLARE_FLAG(std::string, redis_server);
ABSL_DECLARE_FLAG(std::string, redis_benchmark);
ABSL_DECLARE_FLAG(std::string, anarchoredis);
ABSL_DECLARE_FLAG(std::string, anarcho_admin);
ABSL_DECLARE_FLAG(std::string, baseline_anarchoredis);
ABSL_DECLARE_FLAG(std::string, tls_certs);
ABSL_DECLARE_FLAG(std::string, node_args);
ABSL_DECLARE_FLAG(double, soak_seconds);
ABSL_DECLARE_FLAG(double, soak_interval);
ABSL_DECLARE_FLAG(bool, soak_preload);
ABSL_DECLARE_FLAG(double, soak_restart_timeout);
ABSL_DECLARE_FLAG(std::string, failover_kinds);
ABSL_DECLARE_FLAG(int, failover_trials);
ABSL_DECLARE_FLAG(std::string, tmp_dir);
ABSL_DECLARE_FLAG(bool, keep_tmp);

namespace bench {

// --keyspace, or the subcommand's default.
uint64_t Keyspace(uint64_t mode_default);
// --values random|constant, or the subcommand's default.
bool RandomValues(bool mode_default);
// Workload `mix` with --keyspace, --zipf, --value_size and --values.
absl::StatusOr<WorkloadSpec> WorkloadFromFlags(const std::string& mix);
// run's target and load shape.
LoadOptions OptionsFromFlags();
// The binaries and node flags of the systems compare, soak and failover start.
SystemsConfig SystemsFromFlags();

}  // namespace bench
