// A workload client's connection to the cluster, and the helpers every
// workload client uses to send commands and classify replies.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.h"
#include "history.h"
#include "resp/writer.h"

namespace fault {

using namespace std::chrono_literals;

// One client's connection: prefers its own node, falls back to the others.
class Conn {
 public:
  Conn(itest::Cluster& c, int preferred, std::chrono::milliseconds timeout)
      : c_(c), preferred_(preferred), timeout_(timeout) {}
  // Connected client, or nullptr (after a short sleep) if no node accepts.
  itest::Client* Get() {
    if (cl_) return cl_.get();
    for (int k = 0; k < c_.size(); ++k) {
      int n = (preferred_ + k) % c_.size();
      auto cl = c_.Connect(n);
      if (cl->connected()) {
        cl_ = std::move(cl);
        node_ = n;
        return cl_.get();
      }
    }
    std::this_thread::sleep_for(100ms);
    return nullptr;
  }
  void Drop() {
    cl_.reset();
    db_ = 0;
  }
  int node() const { return node_; }
  // The db the connection is in (a new one starts in 0).
  int db() const { return db_; }
  void set_db(int db) { db_ = db; }
  // Nothing once dropped: a reply missing or late leaves the connection out
  // of step, so a missing reply drops it.
  std::optional<resp::Value> Read() { return Read(timeout_); }
  std::optional<resp::Value> Read(std::chrono::milliseconds timeout) {
    if (!cl_) return std::nullopt;
    auto v = cl_->Read(timeout);
    if (!v) Drop();
    return v;
  }

 private:
  itest::Cluster& c_;
  int preferred_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<itest::Client> cl_;
  int node_ = 0;
  int db_ = 0;
};

// A new op of `client` on `conn`'s node (its invocation time is set when
// the request is sent).
inline Op NewOp(int client, const Conn& conn, OpKind kind, std::string key) {
  Op op;
  op.client = client;
  op.node = conn.node();
  op.kind = kind;
  op.key = std::move(key);
  return op;
}

inline std::string Cmd(const std::vector<std::string>& args) {
  std::vector<std::string_view> v(args.begin(), args.end());
  std::string out;
  resp::AppendCommand(&out, v);
  return out;
}

inline std::optional<int64_t> Int(const resp::Value& v) {
  if (v.type == resp::Type::kInteger) return v.integer;
  if (v.type == resp::Type::kNull) return kNil;
  if (v.IsError()) return std::nullopt;
  try {
    return std::stoll(v.AsString());
  } catch (...) {
    return std::nullopt;
  }
}

// Outcome of a reply; drops the connection when its state is uncertain.
inline Outcome Classify(const std::optional<resp::Value>& v, Conn& conn, std::string* error) {
  if (!v) {
    *error = "no reply";
    conn.Drop();
    return Outcome::kUnknown;
  }
  if (!v->IsError()) return Outcome::kOk;
  *error = v->str;
  if (v->str.starts_with("TRYAGAIN") || v->str.starts_with("EXECABORT")) return Outcome::kFail;
  conn.Drop();  // UNKNOWN closes the connection; anything else: start clean
  return Outcome::kUnknown;
}

}  // namespace fault
