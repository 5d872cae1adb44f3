// A test fixture around one node in a temporary directory, started before
// each test with `args_` and restartable (kill -9, then the same dir and port).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "harness.h"

namespace itest {

class SingleNodeFixture : public ::testing::Test {
 protected:
  explicit SingleNodeFixture(std::string dir_prefix, std::vector<std::string> args = {})
      : dir_prefix_(std::move(dir_prefix)), args_(std::move(args)) {}
  void SetUp() override {
    dir_ = MakeTempDir(dir_prefix_);
    node_ = std::make_unique<Node>(dir_, 0, args_);
    node_->Start();
  }
  void TearDown() override {
    node_.reset();
    RemoveDir(dir_);
  }
  void Restart() {
    node_->Kill9();
    node_ = std::make_unique<Node>(dir_, node_->port(), args_);
    node_->Start();
  }
  std::string Digest() { return Client(node_->port()).Call({"DEBUG", "DIGEST"}).AsString(); }

  std::string dir_prefix_;
  std::vector<std::string> args_;
  std::string dir_;
  std::unique_ptr<Node> node_;
};

}  // namespace itest
