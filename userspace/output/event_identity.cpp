#include "output/event_identity.h"

#include <atomic>
#include <fmt/format.h>
#include <memory>

#include "output/json_event.h"

namespace podguard {

namespace {

// Written by the policy load, read by every renderer thread.
std::atomic<std::shared_ptr<const std::vector<RuleIdentity>>> g_rules{
    std::make_shared<const std::vector<RuleIdentity>>()};
std::string g_node;

void str_member(const char* key, const std::string& value, std::string& out) {
    out += '"';
    out += key;
    out += "\":\"";
    append_json_string(value, out);
    out += "\",";
}

} // namespace

void publish_rule_identities(std::vector<RuleIdentity> rules) {
    g_rules.store(std::make_shared<const std::vector<RuleIdentity>>(std::move(rules)));
}

void append_rule_identity(uint32_t rule_id, std::string& out) {
    auto rules = g_rules.load();
    out += "\"policy\":{";
    if (rule_id >= 1 && rule_id <= rules->size()) {
        const RuleIdentity& r = (*rules)[rule_id - 1];
        str_member("name", r.policy, out);
        str_member("rule", r.rule, out);
        str_member("severity", r.severity, out);
    }
    fmt::format_to(std::back_inserter(out), "\"rule_id\":{}}},", rule_id);
}

void set_event_node_name(std::string name) {
    g_node = std::move(name);
}

const std::string& event_node_name() {
    return g_node;
}

} // namespace podguard
