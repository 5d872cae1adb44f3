// EffectBatcher cuts the leader's stream into bounded entries; PieceAssembler
// puts cut commands back together on the applying side.
#include "node/child/effect_batcher.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "resp/writer.h"

namespace node {
namespace {

// A run of whole commands, each its own unit, starting at stream offset `at`
// (plus `gap` non-state bytes before each command).
EffectRun MakeRun(uint64_t at, const std::vector<std::string>& values, uint64_t gap = 0) {
  EffectRun run;
  uint64_t offset = at;
  for (const std::string& v : values) {
    offset += gap;
    std::string cmd;
    resp::AppendCommand(&cmd, {"SET", "k", v});
    run.commands.Append(cmd);
    ++run.count;
    offset = at + run.commands.size() + gap * (run.count);
    run.units.push_back(EffectRun::Unit{run.commands.size(), 1, 0, offset});
  }
  run.end_offset = offset;
  return run;
}

std::string Applied(PieceAssembler& a, const std::vector<pb::EffectBatch>& entries) {
  std::string out;
  for (const pb::EffectBatch& e : entries) {
    std::vector<std::string> pieces;
    int db = 0;
    if (!a.Complete(e, &pieces, &db)) continue;
    for (const std::string& p : pieces) out += p;
    out += e.commands();
  }
  return out;
}

TEST(EffectBatcherTest, SmallWritesShareOneEntry) {
  EffectBatcher b(1 << 20);
  b.Reset(100);
  EffectRun run = MakeRun(100, {"a", "b", "c"});
  const std::string bytes = run.commands.ToString();
  const uint64_t end = run.end_offset;
  b.Add(std::move(run));
  std::vector<pb::EffectBatch> e = b.Take(8 << 20);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].stream_begin(), 100u);
  EXPECT_EQ(e[0].stream_end(), end);
  EXPECT_EQ(e[0].command_count(), 3u);
  EXPECT_EQ(e[0].commands(), bytes);
  EXPECT_FALSE(e[0].continued());
  EXPECT_FALSE(b.has_effects());
  EXPECT_EQ(b.taken_offset(), end);
}

TEST(EffectBatcherTest, EntriesStayUnderTheLimitAndContiguous) {
  EffectBatcher b(100);
  b.Reset(0);
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back(std::string(10, 'a' + i % 26));
  EffectRun run = MakeRun(0, values, 3);  // pings between the commands
  const std::string bytes = run.commands.ToString();
  const uint64_t end = run.end_offset;
  b.Add(std::move(run));
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  ASSERT_GT(e.size(), 5u);
  uint64_t at = 0;
  uint32_t count = 0;
  std::string joined;
  for (const pb::EffectBatch& x : e) {
    EXPECT_LE(x.commands().size(), 100u);
    EXPECT_EQ(x.stream_begin(), at);
    EXPECT_FALSE(x.continued());
    at = x.stream_end();
    count += x.command_count();
    joined += x.commands();
  }
  EXPECT_EQ(at, end);
  EXPECT_EQ(count, 40u);
  EXPECT_EQ(joined, bytes);
}

TEST(EffectBatcherTest, BudgetLeavesTheRestForTheNextTake) {
  EffectBatcher b(100);
  b.Reset(0);
  std::vector<std::string> values(50, std::string(20, 'v'));
  b.Add(MakeRun(0, values));
  std::vector<pb::EffectBatch> first = b.Take(300);
  size_t bytes = 0;
  for (const auto& x : first) bytes += x.commands().size();
  EXPECT_GE(bytes, 300u);
  EXPECT_LT(bytes, 400u);
  EXPECT_TRUE(b.has_effects());
  std::vector<pb::EffectBatch> rest = b.Take(1 << 20);
  EXPECT_EQ(rest.front().stream_begin(), first.back().stream_end());
  EXPECT_FALSE(b.has_effects());
}

TEST(EffectBatcherTest, BigCommandIsCutIntoPiecesAndReassembled) {
  EffectBatcher b(1000);
  b.Reset(0);
  EffectRun run = MakeRun(0, {"small", std::string(4500, 'x'), "after"});
  const std::string bytes = run.commands.ToString();
  b.Add(std::move(run));
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  for (pb::EffectBatch& x : e) x.set_stream_id("s1");
  int pieces = 0;
  for (const auto& x : e) {
    EXPECT_LE(x.commands().size(), 1000u);
    if (x.continued()) {
      ++pieces;
      EXPECT_EQ(x.command_count(), 0u);
    }
  }
  EXPECT_EQ(pieces, 4);
  PieceAssembler a;
  EXPECT_EQ(Applied(a, e), bytes);
  EXPECT_EQ(a.held_bytes(), 0u);
}

// A leader that logged only some pieces, then lost leadership: the next
// leader's entries come from another stream, and the pieces are dropped.
TEST(EffectBatcherTest, PiecesOfAnUnfinishedCommandAreDropped) {
  EffectBatcher b(1000);
  b.Reset(0);
  b.Add(MakeRun(0, {std::string(3500, 'x')}));
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  ASSERT_EQ(e.size(), 4u);
  e.pop_back();  // the last piece never made it into the log
  for (pb::EffectBatch& x : e) x.set_stream_id("old");
  pb::EffectBatch next;
  next.set_stream_id("new");
  resp::AppendCommand(next.mutable_commands(), {"SET", "k", "fresh"});
  next.set_command_count(1);
  e.push_back(next);
  PieceAssembler a;
  EXPECT_EQ(Applied(a, e), next.commands());
  EXPECT_EQ(a.dropped_bytes(), 3000u);
}

// The node's own entries (no stream id) may fall between two pieces.
TEST(EffectBatcherTest, NodeEntriesBetweenPiecesDoNotBreakThem) {
  EffectBatcher b(1000);
  b.Reset(0);
  EffectRun run = MakeRun(0, {std::string(2500, 'x')});
  const std::string bytes = run.commands.ToString();
  b.Add(std::move(run));
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  for (pb::EffectBatch& x : e) x.set_stream_id("s1");
  pb::EffectBatch script;
  resp::AppendCommand(script.mutable_commands(), {"SCRIPT", "LOAD", "return 1"});
  script.set_command_count(1);
  e.insert(e.begin() + 1, script);
  PieceAssembler a;
  EXPECT_EQ(Applied(a, e), script.commands() + bytes);
}

// A snapshot caught the leader's child at stream offset O: some entry must
// end exactly at O, whatever arrives before or after.
TEST(EffectBatcherTest, CutPointEndsAnEntryExactlyThere) {
  EffectBatcher b(1 << 20);
  b.Reset(0);
  EffectRun run = MakeRun(0, {"a", "b", "c", "d"}, 2);  // 2 bytes of pings before each command
  const uint64_t cut = run.units[1].end_offset + 1;     // inside the pings after "b"
  b.Add(std::move(run));
  b.CutAt(cut);
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].stream_end(), cut);
  EXPECT_EQ(e[0].command_count(), 2u);
  EXPECT_EQ(e[1].stream_begin(), cut);
  EXPECT_EQ(e[1].command_count(), 2u);
  EXPECT_FALSE(b.cut_pending());
}

TEST(EffectBatcherTest, CutPointAheadOfTheStreamWaitsForIt) {
  EffectBatcher b(1 << 20);
  b.Reset(0);
  EffectRun first = MakeRun(0, {"a"});
  const uint64_t first_end = first.end_offset;
  b.Add(std::move(first));
  EffectRun second = MakeRun(first_end, {"b", "c"});
  const uint64_t cut = second.units[0].end_offset;  // after "b", not arrived yet
  b.CutAt(cut);
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].stream_end(), first_end);
  EXPECT_TRUE(b.cut_pending());
  b.Add(std::move(second));
  e = b.Take(1 << 20);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].stream_end(), cut);
  EXPECT_EQ(e[0].command_count(), 1u);
  EXPECT_FALSE(b.cut_pending());
}

// A fresh stream's one write, taken as an entry: returns where it ended.
uint64_t TookOneWrite(EffectBatcher& b) {
  b.Reset(0);
  EffectRun run = MakeRun(0, {"a"});
  const uint64_t end = run.end_offset;
  b.Add(std::move(run));
  EXPECT_EQ(b.Take(1 << 20).size(), 1u);
  return end;
}

TEST(EffectBatcherTest, CutPointAfterOnlyPingsGetsAnEmptyEntry) {
  EffectBatcher b(1 << 20);
  const uint64_t end = TookOneWrite(b);
  EffectRun pings;
  pings.end_offset = end + 30;  // 30 bytes that are not state
  b.Add(std::move(pings));
  b.CutAt(end + 14);
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].stream_begin(), end);
  EXPECT_EQ(e[0].stream_end(), end + 14);
  EXPECT_EQ(e[0].command_count(), 0u);
  EXPECT_TRUE(e[0].commands().empty());
}

// Regression (EffectBatcherTest.SkippingPingsStopsAtAPendingCutPoint): the
// leader skips non-state bytes once everything before them committed, also
// when a commit arrives between its proposals; with a snapshot's cut point
// among those bytes, the skip passed it, no entry ended there, and the
// snapshot (and the logged requests it holds back) waited for ever.
TEST(EffectBatcherTest, SkippingPingsStopsAtAPendingCutPoint) {
  EffectBatcher b(1 << 20);
  const uint64_t end = TookOneWrite(b);
  b.CutAt(end + 14);
  EffectRun pings;
  pings.end_offset = end + 30;
  b.Add(std::move(pings));
  b.SkipNonState();
  EXPECT_EQ(b.taken_offset(), end) << "skipped past the cut point";
  std::vector<pb::EffectBatch> e = b.Take(1 << 20);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].stream_end(), end + 14);
  EXPECT_FALSE(b.cut_pending());
  b.SkipNonState();
  EXPECT_EQ(b.taken_offset(), end + 30) << "the pings after it need no entry";
}

// The leader reads only the bookkeeping of its own stream entries: every
// field but the commands, which it does not copy.
TEST(EffectHeaderTest, ParsesEveryFieldButTheCommands) {
  pb::EffectBatch full;
  full.set_stream_id("abc123");
  full.set_stream_begin(10);
  full.set_stream_end(4000);
  full.set_db(3);
  full.set_end_db(5);
  full.set_command_count(7);
  full.set_commands(std::string(3000, 'x'));
  full.set_continued(true);
  full.set_check_digest("d1");
  full.set_node_request("*1\r\n$4\r\nPING\r\n");
  pb::EffectBatch header;
  ASSERT_TRUE(ParseEffectHeader(full.SerializeAsString(), &header));
  pb::EffectBatch expected = full;
  expected.clear_commands();
  EXPECT_EQ(header.SerializeAsString(), expected.SerializeAsString());
  EXPECT_TRUE(header.commands().empty());
}

TEST(EffectHeaderTest, RefusesWhatIsNotAnEffectBatch) {
  pb::EffectBatch header;
  EXPECT_TRUE(ParseEffectHeader("", &header));  // an empty message is a valid one
  pb::EffectBatch full;
  full.set_stream_id("abc");
  full.set_commands("*1\r\n$4\r\nPING\r\n");
  const std::string bytes = full.SerializeAsString();
  EXPECT_FALSE(ParseEffectHeader(bytes.substr(0, bytes.size() - 3), &header));  // cut inside the commands
  EXPECT_FALSE(ParseEffectHeader(std::string("\x00\x01", 2), &header));       // field number 0
  EXPECT_FALSE(ParseEffectHeader(std::string("\x0a\x05" "ab", 4), &header));  // stream_id longer than the data
}

}  // namespace
}  // namespace node
