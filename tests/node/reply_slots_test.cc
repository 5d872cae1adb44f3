#include "node/front/reply_slots.h"

#include <string>

#include "gtest/gtest.h"

namespace node {
namespace {

std::string Drain(OutputQueue& out) { return out.Take(out.size()); }

// A connection that ends keeps its released replies in order; of the rest, a
// read's slot gets the read's error (it changed nothing) and any other the
// general one.
TEST(ReplySlotsTest, AbortGivesReleasedRepliesThenEachSlotItsKindsError) {
  ReplySlots slots;
  const auto write = slots.Add(RequestTiming{{}, RequestClass::kWrite});
  const auto read = slots.Add(RequestTiming{{}, RequestClass::kRead});
  const auto answered = slots.Add(RequestTiming{{}, RequestClass::kRead});
  slots.Add();  // a request of no class (PING)
  slots.SetReply(answered, ByteBlock("$1\r\nx\r\n"));
  slots.Release(answered);
  slots.SetReply(read, ByteBlock("$1\r\ny\r\n"));  // arrived, never released
  (void)write;
  OutputQueue out;
  const ReplySlots::Aborted aborted = slots.AbortAll("-W\r\n", "-R\r\n", &out);
  EXPECT_EQ(aborted.errors, 2u);
  EXPECT_EQ(aborted.read_errors, 1u);
  EXPECT_EQ(Drain(out), "-W\r\n-R\r\n$1\r\nx\r\n-W\r\n");
  EXPECT_TRUE(slots.empty());
}

}  // namespace
}  // namespace node
