// YAML text -> one flat node tree per document, from a single pass of
// yaml-cpp's event parser. It holds what YAML::LoadAll's node graph holds
// (types, scalars, marks, duplicate keys in order, an alias as the very node
// it names) without its cost: LoadAll allocates a shared_ptr'd node and node
// data per value, and the parser ran twice (once to guard against yaml-cpp
// 0.7 looping forever, once to build). With 1,000 rules that was half of a
// policy reload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podguard::policy::yaml {

enum class Type : uint8_t { Null, Scalar, Sequence, Map };

inline constexpr uint32_t kNone = ~0u;

struct Node {
    Type type = Type::Null;
    int line = -1; // yaml-cpp's Mark: 0-based, -1 when unknown
    int column = -1;
    uint32_t first = 0; // into Tree::children
    uint32_t count = 0; // Sequence: items; Map: key, value, key, value...
    std::string scalar;
};

struct Tree {
    std::vector<Node> nodes;
    std::vector<uint32_t> children;
    std::vector<uint32_t> documents; // root node per document, kNone when empty
};

// Every document in `text`. Throws what YAML::LoadAll throws
// (YAML::ParserException and friends), and a YAML::ParserException at the
// offending document when the stream holds more documents than it has lines:
// yaml-cpp 0.7 yields empty documents forever after a stray ',' or ']'.
Tree load_all(std::string_view text);

// A read-only handle on one node, shaped like the part of YAML::Node the
// policy parser uses.
class NodeRef {
  public:
    NodeRef(const Tree& tree, uint32_t index) : tree_(&tree), node_(&tree.nodes[index]) {}

    Type type() const { return node_->type; }
    bool is_null() const { return node_->type == Type::Null; }
    bool is_scalar() const { return node_->type == Type::Scalar; }
    bool is_sequence() const { return node_->type == Type::Sequence; }
    bool is_map() const { return node_->type == Type::Map; }
    const std::string& scalar() const { return node_->scalar; }
    int line() const { return node_->line; }
    int column() const { return node_->column; }

    // Items of a sequence, pairs of a map; 0 otherwise.
    size_t size() const {
        return node_->type == Type::Sequence ? node_->count
               : node_->type == Type::Map    ? node_->count / 2
                                             : 0;
    }
    NodeRef item(size_t i) const { return child(i); }
    NodeRef key(size_t i) const { return child(2 * i); }
    NodeRef value(size_t i) const { return child(2 * i + 1); }

  private:
    NodeRef child(size_t i) const { return NodeRef(*tree_, tree_->children[node_->first + i]); }

    const Tree* tree_;
    const Node* node_;
};

} // namespace podguard::policy::yaml
