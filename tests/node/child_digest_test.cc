// The divergence check's digest form (node/child/child_digest.h); the digest
// itself is tested with real children in tests/integration/digest_test.cc.
#include "node/child/child_digest.h"

#include "gtest/gtest.h"

namespace node {
namespace {

const std::string kData = "0123456789012345678901234567890123456789";

TEST(ChildDigestTest, StreamsAreBoundedByTheBusyReplyThreshold) {
  EXPECT_EQ(StreamsBound(5000), 2'500'000);
  EXPECT_EQ(StreamsBound(1), 500);
  EXPECT_EQ(StreamsBound(0), 1);  // never "whatever the size"
}

TEST(ChildDigestTest, AFollowerTakesTheStreamsPartExactlyWhenTheLeaderDid) {
  EXPECT_EQ(StreamsBoundToMatch(kData + ":da39a3ee5e6b4b0d3255bfef95601890afd80709"), 0);
  EXPECT_EQ(StreamsBoundToMatch(kData + ":-"), -1);
}

TEST(ChildDigestTest, ADigestOfAnEarlierLeaderHasNoStreamsPart) {
  EXPECT_EQ(InThisForm(kData), kData + ":-");
  EXPECT_EQ(StreamsBoundToMatch(InThisForm(kData)), -1);
  EXPECT_EQ(InThisForm(kData + ":abc"), kData + ":abc");
}

}  // namespace
}  // namespace node
