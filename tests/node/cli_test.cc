// The command-line conventions shared by the node and the tools (node/cli.h).
#include "node/cli.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, cli_test_port, 1, "A port.");
ABSL_FLAG(bool, cli_test_switch, false, "A switch.");
ABSL_FLAG(std::string, cli_test_name, "x", "A name.");
ABSL_FLAG(std::string, test_cli_hidden, "", "Testing only.");

namespace node::cli {
namespace {

Program TestProgram() {
  return Program{"prog", "does things", "  prog [flags]\n", "cli_test.cc",
                 {{{"one"}, "one --cli-test-port N", {"cli_test_port"}},
                  {{"one", "two"}, "one two --cli-test-name X", {"cli_test_name"}}}};
}

// A file of its own per call (tests may run in parallel processes).
std::string WriteFile(const std::string& text) {
  static int n = 0;
  const std::string path = testing::TempDir() + "/cli_test_" + std::to_string(getpid()) + "_" + std::to_string(++n) + ".conf";
  std::ofstream(path) << text;
  return path;
}

TEST(CliTest, CanonicalNamesUseUnderscores) {
  EXPECT_EQ(CanonicalName("raft-port"), "raft_port");
  EXPECT_EQ(CanonicalName("raft_port"), "raft_port");
  EXPECT_TRUE(IsTestingFlag("test_break_gate"));
  EXPECT_FALSE(IsTestingFlag("latest_test"));
}

TEST(CliTest, HelpListsTheProgramsFlagsDashedWithoutSourcePathsOrTestFlags) {
  const std::string help = Help(TestProgram(), {});
  EXPECT_NE(help.find("--cli-test-port VALUE  (default: 1)"), std::string::npos) << help;
  EXPECT_NE(help.find("--cli-test-switch  (default: false)"), std::string::npos) << help;  // a bool takes no value
  EXPECT_NE(help.find("prog one two --cli-test-name X"), std::string::npos) << help;
  EXPECT_EQ(help.find("test-cli-hidden"), std::string::npos) << help;
  EXPECT_EQ(help.find("test_cli_hidden"), std::string::npos) << help;
  EXPECT_EQ(help.find(".cc"), std::string::npos) << help;
  EXPECT_EQ(help.find("Flags from"), std::string::npos) << help;
}

TEST(CliTest, SubcommandHelpShowsTheLongestMatchAndOnlyItsFlags) {
  const std::string two = Help(TestProgram(), {"one", "two", "extra"});
  EXPECT_NE(two.find("--cli-test-name"), std::string::npos) << two;
  EXPECT_EQ(two.find("--cli-test-port"), std::string::npos) << two;
  const std::string one = Help(TestProgram(), {"one"});
  EXPECT_NE(one.find("--cli-test-port"), std::string::npos) << one;
  EXPECT_EQ(one.find("--cli-test-name"), std::string::npos) << one;
}

TEST(CliTest, HelpAndVersionExitZeroWithoutParsing) {
  for (const char* flag : {"-h", "--help", "--version"}) {
    std::string a0 = "prog", a1 = flag, a2 = "--no-such-flag";
    char* argv[] = {a0.data(), a1.data(), a2.data()};
    testing::internal::CaptureStdout();
    const Parsed p = Parse(3, argv, TestProgram());
    const std::string out = testing::internal::GetCapturedStdout();
    ASSERT_TRUE(p.exit_code.has_value()) << flag;
    EXPECT_EQ(*p.exit_code, 0) << flag;
    EXPECT_NE(out.find(std::string(flag) == "--version" ? "prog " : "Usage:"), std::string::npos) << out;
  }
}

TEST(CliTest, DashedFlagsParseAsTheirUnderscoredNames) {
  std::string args[] = {"prog", "--cli-test-port=7", "--cli-test-name", "a-b", "--nocli-test-switch", "word",
                        "--", "--cli-test-port"};
  char* argv[std::size(args)];
  for (size_t i = 0; i < std::size(args); ++i) argv[i] = args[i].data();
  const Parsed p = Parse(static_cast<int>(std::size(args)), argv, TestProgram());
  ASSERT_FALSE(p.exit_code.has_value());
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_port), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "a-b");  // values are left alone
  EXPECT_FALSE(absl::GetFlag(FLAGS_cli_test_switch));
  EXPECT_TRUE(p.given.contains("cli_test_port"));
  EXPECT_TRUE(p.given.contains("cli_test_switch"));
  EXPECT_EQ(p.positional, (std::vector<std::string>{"word", "--cli-test-port"}));
}

TEST(CliTest, ConfigFilesTakeEitherSpellingAndLoseToTheCommandLine) {
  absl::SetFlag(&FLAGS_cli_test_port, 1);
  absl::SetFlag(&FLAGS_cli_test_name, "x");
  const std::string path = WriteFile("# a comment\ncli-test-port 9\ncli_test_name = \"from file\"\n");
  EXPECT_EQ(LoadConfigFile(path, {}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_port), 9);
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "from file");
  absl::SetFlag(&FLAGS_cli_test_port, 3);
  EXPECT_EQ(LoadConfigFile(path, {"cli_test_port"}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_port), 3);
}

// Regression (CliTest.ConfigFileCommentsEndAValueAndSettingsComeOnce): "dir
// /data # old" named the directory "/data # old", and a node started empty
// there; a setting given twice took the last value without a word.
TEST(CliTest, ConfigFileCommentsEndAValueAndSettingsComeOnce) {
  absl::SetFlag(&FLAGS_cli_test_name, "x");
  EXPECT_EQ(LoadConfigFile(WriteFile("cli-test-name /data # old\tplace\n"), {}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "/data");
  EXPECT_EQ(LoadConfigFile(WriteFile("cli-test-name a#b\n"), {}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "a#b");
  EXPECT_EQ(LoadConfigFile(WriteFile("cli-test-name \"a #b\"\n"), {}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "a #b");
  EXPECT_EQ(LoadConfigFile(WriteFile("cli-test-name \"a #b\" # c\n"), {}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "a #b");
  EXPECT_EQ(LoadConfigFile(WriteFile("cli-test-name   # nothing\n"), {}), "");
  EXPECT_EQ(absl::GetFlag(FLAGS_cli_test_name), "");
  EXPECT_NE(LoadConfigFile(WriteFile("cli-test-port 1\n# x\ncli_test_port 2\n"), {})
                .find(":3: 'cli_test_port' is set again (first on line 1)"),
            std::string::npos);
}

TEST(CliTest, ConfigFilesRefuseTestFlagsUnknownNamesAndBadValues) {
  EXPECT_NE(LoadConfigFile(WriteFile("test-cli-hidden x\n"), {}).find("is for tests only"), std::string::npos);
  EXPECT_NE(LoadConfigFile(WriteFile("no-such-setting 1\n"), {}).find(":1: unknown setting 'no_such_setting'"),
            std::string::npos);
  EXPECT_NE(LoadConfigFile(WriteFile("\ncli-test-port many\n"), {}).find(":2: cli_test_port"), std::string::npos);
  EXPECT_NE(LoadConfigFile(testing::TempDir() + "/none.conf", {}).find("cannot read"), std::string::npos);
}

TEST(CliTest, MissingProgramsAreNamed) {
  EXPECT_EQ(MissingProgram("sh"), "");
  EXPECT_EQ(MissingProgram("/bin/sh"), "");
  EXPECT_NE(MissingProgram("/nonexistent/redis-server").find("/nonexistent/redis-server is missing"),
            std::string::npos);
  EXPECT_NE(MissingProgram("no-such-program-anywhere").find("not found in PATH"), std::string::npos);
}

TEST(CliTest, EffectiveSettingsListTheProgramsFlags) {
  absl::SetFlag(&FLAGS_cli_test_port, 5);
  const std::string s = EffectiveSettings(TestProgram());
  EXPECT_NE(s.find("cli_test_port=5"), std::string::npos) << s;
  EXPECT_EQ(s.find("test_cli_hidden"), std::string::npos) << s;  // at its default: left out
}

}  // namespace
}  // namespace node::cli
