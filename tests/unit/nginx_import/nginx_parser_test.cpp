// The nginx tokenizer and parser, the value syntax (durations, sizes, addresses) and the YAML
// writer's quoting.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/nginx_model.hpp"
#include "config/nginx_parser.hpp"
#include "config/nginx_yaml.hpp"

namespace spillway::config::nginx {
namespace {

TEST(NginxParser, DirectivesBlocksAndLines) {
  auto r = parse("a 1 2;\n# comment { ;\nb {\n  c x;\n}\n", "f.conf");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.directives.size(), 2u);
  EXPECT_EQ(r.directives[0].name, "a");
  EXPECT_EQ(r.directives[0].args, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(r.directives[0].line, 1);
  EXPECT_FALSE(r.directives[0].has_block);
  const directive& b = r.directives[1];
  EXPECT_EQ(b.line, 3);
  ASSERT_TRUE(b.has_block);
  ASSERT_EQ(b.block.size(), 1u);
  EXPECT_EQ(b.block[0].name, "c");
  EXPECT_EQ(b.block[0].line, 4);
}

// As nginx: \" \' \\ \t \r \n are unescaped, any other pair is kept (regexes need "\.").
TEST(NginxParser, QuotesAndEscapes) {
  auto r = parse(R"(h "a b" 'c;d' "" "q\"x" w\;z "t\tn" re\.x;)", "f.conf");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.directives.size(), 1u);
  EXPECT_EQ(r.directives[0].args,
            (std::vector<std::string>{"a b", "c;d", "", "q\"x", "w\\;z", "t\tn", "re\\.x"}));
}

TEST(NginxParser, HashInsideAWordIsNotAComment) {
  auto r = parse("a b#c;", "f.conf");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.directives[0].args, (std::vector<std::string>{"b#c"}));
}

TEST(NginxParser, VariableBracesDoNotOpenABlock) {
  auto r = parse("set $x ${host}suffix;", "f.conf");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.directives[0].args, (std::vector<std::string>{"$x", "${host}suffix"}));
}

TEST(NginxParser, QuotedStringsSpanLines) {
  auto r = parse("a \"x\ny\";\nb;", "f.conf");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.directives[0].args[0], "x\ny");
  EXPECT_EQ(r.directives[1].line, 3);
}

struct syntax_case {
  const char* text;
  const char* error;
};

TEST(NginxParser, SyntaxErrorsNameFileAndLine) {
  const syntax_case cases[] = {
      {"a {\n b;\n",
       "f.conf:3: unexpected end of file, expecting '}' to close the block opened on line 1"},
      {"a;\n}", "f.conf:2: unexpected '}'"},
      {"a {\n b c\n}", "f.conf:3: unexpected '}' (is the ';' after 'c' missing?)"},
      {"\n\na b", "f.conf:3: unexpected end of file, expecting ';' or '}' after 'a'"},
      {"a \"b;\n", "f.conf:1: unterminated quoted string (opened on line 1)"},
      {"a \"b\"c;", "f.conf:1: unexpected 'c' after a quoted string"},
      {";", "f.conf:1: unexpected ';'"},
      {"{}", "f.conf:1: unexpected '{'"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "f.conf");
    EXPECT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error, c.error) << c.text;
    EXPECT_TRUE(r.directives.empty());
  }
}

TEST(NginxParser, DeepNestingIsAnErrorNotACrash) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "a {";
  auto r = parse(text, "f.conf");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("nested too deeply"), std::string::npos);
}

TEST(NginxParser, DirectiveTextQuotesWhatNeedsIt) {
  auto r = parse("proxy_set_header Connection \"\";\nlocation \"/a b\" {}", "f.conf");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.directives[0].text(), "proxy_set_header Connection \"\"");
  EXPECT_EQ(r.directives[1].text(), "location \"/a b\"");
}

TEST(NginxValues, Durations) {
  EXPECT_EQ(parse_duration_value("60"), duration{60'000});
  EXPECT_EQ(parse_duration_value("500ms"), duration{500});
  EXPECT_EQ(parse_duration_value("1h30m"), duration{5'400'000});
  EXPECT_EQ(parse_duration_value("1m 30s"), duration{90'000});
  EXPECT_EQ(parse_duration_value("2d"), duration{172'800'000});
  EXPECT_EQ(parse_duration_value("1w"), duration{604'800'000});
  EXPECT_FALSE(parse_duration_value(""));
  EXPECT_FALSE(parse_duration_value("s"));
  EXPECT_FALSE(parse_duration_value("5x"));
  EXPECT_FALSE(parse_duration_value("-5s"));
  EXPECT_FALSE(parse_duration_value("1m 30"));
  EXPECT_FALSE(parse_duration_value("99999999999999999999s"));
  EXPECT_EQ(duration_text(duration{2'500}), "2s500ms");
}

TEST(NginxValues, Sizes) {
  EXPECT_EQ(parse_size_value("512"), 512u);
  EXPECT_EQ(parse_size_value("8k"), 8 * KiB);
  EXPECT_EQ(parse_size_value("10M"), 10 * MiB);
  EXPECT_EQ(parse_size_value("1g"), GiB);
  EXPECT_FALSE(parse_size_value("m"));
  EXPECT_FALSE(parse_size_value("1.5m"));
  EXPECT_FALSE(parse_size_value("-1"));
  EXPECT_EQ(size_text(10 * MiB), "10MiB");
  EXPECT_EQ(size_text(3 * GiB), "3GiB");
  EXPECT_EQ(size_text(1536), "1536");
  EXPECT_EQ(size_text(64 * KiB), "64KiB");
}

TEST(NginxValues, HostPort) {
  using hp = std::pair<std::string, uint16_t>;
  EXPECT_EQ(split_host_port("10.0.0.1:9000", 80), (hp{"10.0.0.1", 9000}));
  EXPECT_EQ(split_host_port("backend.internal", 80), (hp{"backend.internal", 80}));
  EXPECT_EQ(split_host_port("[::1]:8080", 80), (hp{"[::1]", 8080}));
  EXPECT_EQ(split_host_port("[::1]", 443), (hp{"[::1]", 443}));
  EXPECT_FALSE(split_host_port("a:0", 80));
  EXPECT_FALSE(split_host_port("a:65536", 80));
  EXPECT_FALSE(split_host_port("a:", 80));
  EXPECT_FALSE(split_host_port("::1", 80));
  EXPECT_FALSE(split_host_port("[::1", 80));
  EXPECT_FALSE(split_host_port(":80", 80));
}

TEST(NginxValues, SafeNames) {
  EXPECT_EQ(safe_name("/v1/chat/completions"), "v1_chat_completions");
  EXPECT_EQ(safe_name("/"), "root");
  EXPECT_EQ(safe_name("my-upstream.v2"), "my-upstream.v2");
  EXPECT_EQ(safe_name("a b//c"), "a_b_c");
}

// Every scalar the writer produces reads back as the same string.
TEST(NginxYaml, ScalarsRoundTrip) {
  const std::string samples[] = {
      "plain", "10.0.0.1:9000", "[::1]:80",    "null",      "~",   "a: b", "a #b", "-x", "x:",
      "",      "q\"uote",       "back\\slash", "{x}",       "[x]", "*x",   "&x",   "!x", "%x",
      "@x",    "'x'",           "tab\tx",      "new\nline", "é"};
  for (const auto& s : samples) {
    std::string doc = "k: " + yaml_scalar(s) + "\n";
    YAML::Node n = YAML::Load(doc);
    ASSERT_TRUE(n["k"].IsScalar()) << doc;
    EXPECT_EQ(n["k"].Scalar(), s) << doc;
  }
}

TEST(NginxYaml, EnvironmentReferencesAreEscaped) {
  EXPECT_EQ(yaml_scalar("${HOME}"), "\"$${HOME}\"");
  EXPECT_EQ(yaml_scalar("$x"), "\"$x\"");
}

TEST(NginxYaml, BlockAndFlowLayoutWithComments) {
  ynode root = ynode::map();
  root.add("a", "1", "from line 1");
  ynode& list = root.add("list", ynode::seq());
  ynode item = ynode::map();
  item.add("name", "x");
  item.entries.front().second.before = {"about x"};
  ynode flow = ynode::map(true);
  flow.add("k", "v");
  flow.comment = "flow";
  item.add("f", std::move(flow));
  list.push(std::move(item));
  const std::string out = write_yaml(root, {"header"});
  EXPECT_EQ(out,
            "# header\n"
            "a: 1  # from line 1\n"
            "list:\n"
            "  # about x\n"
            "  - name: x\n"
            "    f: {k: v}  # flow\n");
  YAML::Node n = YAML::Load(out);
  EXPECT_EQ(n["list"][0]["f"]["k"].Scalar(), "v");
}

}  // namespace
}  // namespace spillway::config::nginx
