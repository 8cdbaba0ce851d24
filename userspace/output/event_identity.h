// Who decided and where: the node an event happened on and, for an event a
// policy rule decided, that rule's policy, name and severity. Rule ids are
// positions in the compiled table and change with every load, so the table in
// force is published here at each load and events name rules by it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace podguard {

struct RuleIdentity {
    std::string policy;   // metadata.name
    std::string rule;     // rules[].name, "default" for defaultAction
    std::string severity; // info | low | medium | high | critical
};

// The compiled rule table in force: rules[i] is rule id i + 1.
void publish_rule_identities(std::vector<RuleIdentity> rules);

// Appends "policy":{"name":..,"rule":..,"severity":..,"rule_id":N} (no
// leading comma, a trailing one); only rule_id when the id is unknown.
void append_rule_identity(uint32_t rule_id, std::string& out);

// Set once at start (before events flow): the node's name on every event.
void set_event_node_name(std::string name);
const std::string& event_node_name();

} // namespace podguard
