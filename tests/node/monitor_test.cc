// MONITOR's lines (node/front/monitor.h): Redis's quoting and redaction.
#include "node/front/monitor.h"

#include "gtest/gtest.h"

namespace node {
namespace {

using V = std::vector<std::string_view>;
const auto kWhen = std::chrono::system_clock::time_point(std::chrono::microseconds(1700000000000042));

TEST(MonitorTest, LinesQuoteAsRedisDoes) {
  EXPECT_EQ(MonitorLine(kWhen, 3, "10.0.0.9:5000", V{"SET", "k", "a \"b\"\\\n\r\t\x01\xff"}),
            "+1700000000.000042 [3 10.0.0.9:5000] \"SET\" \"k\" \"a \\\"b\\\"\\\\\\n\\r\\t\\x01\\xff\"\r\n");
}

TEST(MonitorTest, PasswordsAreRedacted) {
  EXPECT_EQ(MonitorLine(kWhen, 0, "a:1", V{"auth", "pw"}), "+1700000000.000042 [0 a:1] \"auth\" \"(redacted)\"\r\n");
  EXPECT_EQ(MonitorLine(kWhen, 0, "a:1", V{"AUTH", "u", "pw"}),
            "+1700000000.000042 [0 a:1] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n");
  EXPECT_EQ(MonitorLine(kWhen, 0, "a:1", V{"HELLO", "3", "auth", "u", "pw", "SETNAME", "n"}),
            "+1700000000.000042 [0 a:1] \"HELLO\" \"3\" \"auth\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n");
  EXPECT_EQ(MonitorLine(kWhen, 0, "a:1", V{"MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u", "pw", "KEYS"}),
            "+1700000000.000042 [0 a:1] \"MIGRATE\" \"h\" \"1\" \"k\" \"0\" \"5\" \"AUTH2\" \"(redacted)\" "
            "\"(redacted)\" \"KEYS\"\r\n");
  EXPECT_EQ(MonitorLine(kWhen, 0, "a:1", V{"GET", "auth"}), "+1700000000.000042 [0 a:1] \"GET\" \"auth\"\r\n");
}

TEST(MonitorTest, AdminAndUnknownCommandsAreNotShown) {
  CommandSpec get, config;
  get.arity = 2;
  config.admin = true;
  config.arity = -2;
  CommandSpec exec_like;
  exec_like.skip_monitor = true;
  exec_like.arity = 1;
  EXPECT_TRUE(ShownToMonitors(&get, 2));
  EXPECT_FALSE(ShownToMonitors(&config, 3));
  EXPECT_FALSE(ShownToMonitors(&exec_like, 1));
  EXPECT_FALSE(ShownToMonitors(nullptr, 1));
}

// Regression (MonitorTest.ScriptCallsAreShownAndWrongAritiesAreNot): EVAL,
// EVALSHA and FCALL (flagged skip_monitor, which Redis overrides for a
// script's call) were never shown; a request of the wrong arity, which Redis
// refuses before it runs, was.
TEST(MonitorTest, ScriptCallsAreShownAndWrongAritiesAreNot) {
  for (const char* name : {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"}) {
    CommandSpec script;
    script.name = name;
    script.arity = -3;
    script.skip_monitor = true;
    EXPECT_TRUE(ShownToMonitors(&script, 3)) << name;
    EXPECT_FALSE(ShownToMonitors(&script, 2)) << name;
  }
  CommandSpec set;
  set.name = "set";
  set.arity = -3;
  EXPECT_FALSE(ShownToMonitors(&set, 2));
  EXPECT_TRUE(ShownToMonitors(&set, 5));
  CommandSpec get;
  get.name = "get";
  get.arity = 2;
  EXPECT_FALSE(ShownToMonitors(&get, 1));
  EXPECT_FALSE(ShownToMonitors(&get, 3));
}

}  // namespace
}  // namespace node
