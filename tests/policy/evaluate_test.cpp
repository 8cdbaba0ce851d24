// decide() over the shipped examples and the precedence rules.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>

#include "podguard.h"
#include "policy/evaluate.h"

using namespace podguard;
using namespace podguard::policy;

namespace {

const std::string kPolicies = std::string(PODGUARD_SOURCE_DIR) + "/deploy/policies/";

CompiledPolicy compiled_file(const std::string& file, CompileOptions options = {}) {
    auto set = load_policies({kPolicies + file});
    EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message);
    if (!set.ok())
        return {};
    auto c = compile(*set, options);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? *c : CompiledPolicy{};
}

CompiledPolicy compiled_text(const std::string& yaml, CompileOptions options = {}) {
    auto set = load_policy_text(yaml, "t.yaml");
    EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message);
    if (!set.ok())
        return {};
    auto c = compile(*set, options);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? *c : CompiledPolicy{};
}

PartyFacts container(const std::string& ns, const std::string& pod, const std::string& name,
                     const std::string& binary = "/bin/sh") {
    PartyFacts p;
    p.in_container = true;
    p.namespace_ = ns;
    p.pod = pod;
    p.container = name;
    p.binary = binary;
    p.pod_labels = {{"app", pod}};
    return p;
}

PartyFacts host(const std::string& binary = "/usr/bin/bash") {
    PartyFacts p;
    p.binary = binary;
    return p;
}

OperationFacts signal(int sig, PartyFacts from, PartyFacts to, Relation rel) {
    OperationFacts op;
    op.kind = OperationKind::Signal;
    op.signal = sig;
    op.source = std::move(from);
    op.target = std::move(to);
    op.relation = rel;
    return op;
}

OperationFacts ptrace(int64_t request, PartyFacts from, PartyFacts to, Relation rel,
                      PtraceVia via = PtraceVia::Ptrace) {
    OperationFacts op = signal(0, std::move(from), std::move(to), rel);
    op.kind = OperationKind::Ptrace;
    op.ptrace_request = request;
    op.via = via;
    return op;
}

OperationFacts proc(int entry, PartyFacts from, PartyFacts to, Relation rel) {
    OperationFacts op = signal(0, std::move(from), std::move(to), rel);
    op.kind = OperationKind::ProcAccess;
    op.proc_entry = entry;
    return op;
}

constexpr int SIGHUP_ = 1, SIGKILL_ = 9, SIGTERM_ = 15, SIGCHLD_ = 17;
constexpr int64_t ATTACH = 16, SEIZE = 0x4206;

TEST(PolicyDecide, DemoIsolationSentenceHolds) {
    auto c = compiled_file("demo-isolation.yaml");
    auto sidecar = container("demo", "web", "log-sidecar");
    auto nginx = container("demo", "web", "nginx", "/usr/sbin/nginx");
    auto app = container("demo", "web", "app");
    const auto S = Relation::SamePod;

    auto d = decide(c, signal(SIGHUP_, sidecar, nginx, S));
    EXPECT_EQ(d.action, PolicyAction::Allow);
    EXPECT_EQ(d.rule_name, "demo-isolation/sidecar-may-hup-nginx");
    EXPECT_EQ(d.rule_id, 2u); // 1 is self-protection

    d = decide(c, signal(SIGTERM_, sidecar, nginx, S));
    EXPECT_EQ(d.action, PolicyAction::Block);
    EXPECT_EQ(d.rule_name, "demo-isolation/no-cross-container");
    EXPECT_EQ(decide(c, signal(SIGHUP_, sidecar, app, S)).action, PolicyAction::Block);
    EXPECT_EQ(decide(c, signal(SIGHUP_, app, nginx, S)).action, PolicyAction::Block);
    EXPECT_EQ(decide(c, ptrace(ATTACH, sidecar, nginx, S)).action, PolicyAction::Block);
    EXPECT_EQ(decide(c, ptrace(0, app, nginx, S, PtraceVia::ProcessVmReadv)).action,
              PolicyAction::Block);
    EXPECT_EQ(decide(c, proc(PG_PROC_ROOT, app, nginx, S)).action, PolicyAction::Block);

    // Not in the sentence: reading cmdline, or anything inside one container.
    d = decide(c, proc(PG_PROC_CMDLINE, app, nginx, S));
    EXPECT_EQ(d.action, PolicyAction::Allow);
    EXPECT_EQ(d.rule_name, "demo-isolation/default");
    EXPECT_EQ(decide(c, signal(SIGKILL_, app, app, Relation::SameContainer)).action,
              PolicyAction::Allow);

    // Other namespaces are not this policy's business.
    auto other = container("prod", "web", "app");
    d = decide(c, signal(SIGKILL_, other, container("prod", "web", "nginx"), S));
    EXPECT_EQ(d.action, PolicyAction::Allow);
    EXPECT_EQ(d.rule_id, 0u);
    EXPECT_EQ(d.rule_name, "");
}

TEST(PolicyDecide, SeedPodShellCannotTouchNginx) {
    auto c = compiled_file("seed-pod.yaml");
    auto shell = container("default", "nginx", "shell", "/bin/busybox");
    auto nginx = container("default", "nginx", "nginx", "/usr/sbin/nginx");
    const auto S = Relation::SamePod;
    for (int sig : {SIGHUP_, SIGKILL_, SIGTERM_, 64})
        EXPECT_EQ(decide(c, signal(sig, shell, nginx, S)).action, PolicyAction::Block) << sig;
    EXPECT_EQ(decide(c, ptrace(ATTACH, shell, nginx, S)).action, PolicyAction::Block);
    EXPECT_EQ(decide(c, ptrace(SEIZE, shell, nginx, S)).action, PolicyAction::Block);
    EXPECT_EQ(decide(c, ptrace(0, shell, nginx, S, PtraceVia::ProcessVmWritev)).action,
              PolicyAction::Block);
    for (int e = PG_PROC_NONE; e < PG_PROC_ENTRY_MAX; ++e)
        EXPECT_EQ(decide(c, proc(e, shell, nginx, S)).action, PolicyAction::Block) << e;
    // The other direction, and the shell on itself, stay allowed.
    EXPECT_EQ(decide(c, signal(SIGHUP_, nginx, shell, S)).action, PolicyAction::Allow);
    EXPECT_EQ(decide(c, proc(PG_PROC_ROOT, shell, shell, Relation::SameContainer)).action,
              PolicyAction::Allow);
    // A pod of the same shape elsewhere is not the seed pod.
    EXPECT_EQ(decide(c, signal(SIGHUP_, container("default", "web", "shell"),
                               container("default", "web", "nginx"), S))
                  .action,
              PolicyAction::Allow);
}

TEST(PolicyDecide, DefaultAuditsButNeverBlocks) {
    auto set = load_default_policy();
    ASSERT_TRUE(set.ok()) << set.error().message;
    auto c = compile(*set);
    ASSERT_TRUE(c.ok());
    auto a = container("ns", "p", "a"), b = container("ns", "p", "b");
    auto h = host();
    EXPECT_EQ(decide(*c, ptrace(ATTACH, a, b, Relation::SamePod)).action, PolicyAction::Audit);
    EXPECT_EQ(decide(*c, proc(PG_PROC_ENVIRON, a, b, Relation::SamePod)).action,
              PolicyAction::Audit);
    EXPECT_EQ(decide(*c, proc(PG_PROC_CMDLINE, a, b, Relation::SamePod)).action,
              PolicyAction::Allow);
    EXPECT_EQ(decide(*c, ptrace(ATTACH, a, a, Relation::SameContainer)).action,
              PolicyAction::Allow);
    EXPECT_EQ(decide(*c, ptrace(ATTACH, h, a, Relation::HostToContainer)).action,
              PolicyAction::Allow);
    EXPECT_EQ(decide(*c, signal(SIGHUP_, a, b, Relation::SamePod)).action, PolicyAction::Allow);
    auto d = decide(*c, signal(SIGCHLD_, a, h, Relation::ContainerToHost));
    EXPECT_EQ(d.action, PolicyAction::Allow);
    EXPECT_EQ(d.rule_name, "podguard-default/ignore-child-exit");
    EXPECT_EQ(decide(*c, signal(SIGKILL_, a, h, Relation::ContainerToHost)).action,
              PolicyAction::Audit);
    for (const auto& r : c->rules) {
        if (r.policy == "podguard-default") {
            EXPECT_NE(r.action, PolicyAction::Block) << r.name;
        }
    }
}

TEST(PolicyDecide, NothingInAContainerMayTouchTheAgent) {
    auto c = compiled_file("default.yaml");
    auto agent = host("/usr/bin/podguard");
    agent.is_agent = true;
    auto a = container("ns", "p", "a");
    for (auto op : {signal(SIGKILL_, a, agent, Relation::ContainerToHost),
                    ptrace(ATTACH, a, agent, Relation::ContainerToHost),
                    proc(PG_PROC_MEM, a, agent, Relation::ContainerToHost)}) {
        auto d = decide(c, op);
        EXPECT_EQ(d.action, PolicyAction::Block);
        EXPECT_EQ(d.rule_id, 1u);
        EXPECT_EQ(d.rule_name, "podguard-self-protection/agent-is-untouchable");
    }
    // systemd stopping the agent is not a container.
    EXPECT_EQ(
        decide(c, signal(SIGTERM_, host("/usr/lib/systemd/systemd"), agent, Relation::Host)).action,
        PolicyAction::Allow);
    // An agent running in a pod is protected from other pods too.
    auto pod_agent = container("kube-system", "podguard-x", "agent", "/podguard");
    pod_agent.is_agent = true;
    EXPECT_EQ(decide(c, signal(SIGKILL_, a, pod_agent, Relation::CrossPod)).action,
              PolicyAction::Block);
    auto without = compiled_file("default.yaml", CompileOptions{false});
    EXPECT_EQ(decide(without, signal(SIGKILL_, a, agent, Relation::ContainerToHost)).action,
              PolicyAction::Audit);
}

std::string policy(const std::string& name, const std::string& spec) {
    return "apiVersion: podguard.io/v1alpha1\nkind: PodGuardPolicy\nmetadata: {name: " + name +
           "}\nspec:\n" + spec;
}

TEST(PolicyDecide, FirstMatchWinsInPrecedenceOrder) {
    std::string allow = "  rules: [{name: r, action: allow, operations: [signal]}]\n";
    std::string block = "  rules: [{name: r, action: block, operations: [signal]}]\n";
    auto a = container("ns", "p", "a"), b = container("ns", "p", "b");
    auto op = signal(SIGHUP_, a, b, Relation::SamePod);
    const CompileOptions no_self{false};

    // Same priority: metadata.name decides, not file order.
    EXPECT_EQ(
        decide(compiled_text(policy("bbb", allow) + "---\n" + policy("aaa", block), no_self), op)
            .rule_name,
        "aaa/r");
    // Higher priority first.
    EXPECT_EQ(decide(compiled_text(policy("bbb", "  priority: 1\n" + allow) + "---\n" +
                                       policy("aaa", block),
                                   no_self),
                     op)
                  .rule_name,
              "bbb/r");
    // Within a policy, rule order.
    auto c =
        compiled_text(policy("p", "  rules:\n"
                                  "    - {name: first, action: audit, operations: "
                                  "[{signal: {signals: [HUP]}}]}\n"
                                  "    - {name: second, action: block, operations: [signal]}\n"),
                      no_self);
    EXPECT_EQ(decide(c, op).rule_name, "p/first");
    EXPECT_EQ(decide(c, signal(SIGTERM_, a, b, Relation::SamePod)).rule_name, "p/second");
    // A policy without defaultAction hands unmatched events on; with one it does not.
    std::string narrow = "  rules: [{name: r, action: audit, operations: [ptrace]}]\n";
    EXPECT_EQ(
        decide(compiled_text(policy("aaa", narrow) + "---\n" + policy("bbb", block), no_self), op)
            .rule_name,
        "bbb/r");
    EXPECT_EQ(decide(compiled_text(policy("aaa", narrow + "  defaultAction: allow\n") + "---\n" +
                                       policy("bbb", block),
                                   no_self),
                     op)
                  .rule_name,
              "aaa/default");
}

TEST(PolicyDecide, SignalZeroNeverMatches) {
    auto c = compiled_text(policy("p", "  rules: [{name: r, action: block, operations: [signal]}]\n"
                                       "  defaultAction: block\n"),
                           CompileOptions{false});
    auto a = container("ns", "p", "a");
    EXPECT_EQ(decide(c, signal(0, a, a, Relation::SameContainer)).rule_id, 0u);
    EXPECT_EQ(decide(c, signal(1, a, a, Relation::SameContainer)).rule_id, 1u);
}

TEST(PolicySelector, PredicatesOverPartyFacts) {
    auto c = compiled_text(
        policy("p", "  rules:\n"
                    "    - name: r\n"
                    "      action: block\n"
                    "      operations: [signal]\n"
                    "      source: {namespaces: [demo, \"team-*\"], podLabels: {app: web}, "
                    "containers: [\"side*\"], binaries: [/bin/kill, \"/usr/bin/*\"]}\n"),
        CompileOptions{false});
    const Selector& s = c.selectors[c.rules[0].source_selector];
    auto p = container("team-a", "web", "sidecar", "/usr/bin/pkill");
    EXPECT_TRUE(matches(s, p));
    p.binary = "/bin/kill";
    EXPECT_TRUE(matches(s, p));
    p.binary = "/bin/killall";
    EXPECT_FALSE(matches(s, p));
    EXPECT_TRUE(matches_container(s, p)); // the binary is a process-level question
    p.namespace_ = "prod";
    EXPECT_FALSE(matches_container(s, p));
    p = container("demo", "web", "side", "/bin/kill");
    EXPECT_TRUE(matches(s, p));
    p.pod_labels["app"] = "db";
    EXPECT_FALSE(matches(s, p));
    p.pod_labels.erase("app");
    EXPECT_FALSE(matches(s, p));
    // A host process has no namespace, labels or container name.
    PartyFacts h = host("/bin/kill");
    h.namespace_ = "demo";
    h.container = "side";
    h.pod_labels = {{"app", "web"}};
    EXPECT_FALSE(matches(s, h));
    EXPECT_TRUE(matches(c.selectors[0], h));
}

TEST(PolicyDecide, FactsFromAPipelineEvent) {
    Event e;
    e.kind = EventKind::Ptrace;
    e.relation = Relation::SamePod;
    e.detail = PtraceDetail{0, PG_SYS_PROCESS_VM_READV, 0, 8};
    e.source.pid = 100;
    e.source.exe = "/bin/gdb";
    e.source.container = ContainerInfo{"abc", "libpod", "shell", "", ""};
    e.source.pod = PodInfo{"default", "nginx", "uid", {{"app", "nginx"}}};
    e.target.pid = 42;
    e.target.container = ContainerInfo{"def", "libpod", "nginx", "", ""};
    e.target.pod = e.source.pod;
    auto op = operation_facts(e, 42);
    ASSERT_TRUE(op);
    EXPECT_EQ(op->kind, OperationKind::Ptrace);
    EXPECT_EQ(op->via, PtraceVia::ProcessVmReadv);
    EXPECT_EQ(operation_bit(*op), 1ULL << kPtraceBitProcessVmReadv);
    EXPECT_EQ(op->source.container, "shell");
    EXPECT_EQ(op->source.namespace_, "default");
    EXPECT_EQ(op->source.binary, "/bin/gdb");
    EXPECT_TRUE(op->source.in_container);
    EXPECT_FALSE(op->source.is_agent);
    EXPECT_TRUE(op->target.is_agent);
    EXPECT_EQ(decide(compiled_file("seed-pod.yaml"), *op).action, PolicyAction::Block);

    e.kind = EventKind::ProcAccess;
    e.detail = ProcAccessDetail{"/proc/8/environ", "environ", PG_SYS_OPENAT, 3, 8, AT_FDCWD, false};
    op = operation_facts(e, 0);
    ASSERT_TRUE(op);
    EXPECT_EQ(op->proc_entry, PG_PROC_ENVIRON);
    e.kind = EventKind::Exec;
    e.detail = ProcessDetail{};
    EXPECT_FALSE(operation_facts(e, 0));
}

} // namespace
