#include "policy/yaml_tree.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

namespace podguard::policy::yaml {
namespace {

// Mirrors YAML::NodeBuilder (what LoadAll uses): a node gets the mark of the
// event that opened it, an anchor names the node from its first event on, an
// alias adds that same node again, and a collection joins its parent when it
// closes.
class Builder : public YAML::EventHandler {
  public:
    explicit Builder(Tree& tree) : t_(tree) {}

    void OnDocumentStart(const YAML::Mark& mark) override {
        ++documents;
        last = mark;
        anchors_.clear();
        open_.clear();
        pending_.clear();
        root_ = kNone;
    }
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        add(push(mark, anchor, Type::Null));
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        // The parser rejects unknown anchors before telling us; a null is only a
        // safe answer should it ever not.
        uint32_t node = anchor < anchors_.size() ? anchors_[anchor] : kNone;
        add(node != kNone ? node : push(mark, 0, Type::Null));
    }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  const std::string& value) override {
        uint32_t node = push(mark, anchor, Type::Scalar);
        t_.nodes[node].scalar = value;
        add(node);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(push(mark, anchor, Type::Sequence));
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(push(mark, anchor, Type::Map));
    }
    void OnMapEnd() override { close(); }

    uint32_t take_root() { return std::exchange(root_, kNone); }

    size_t documents = 0;
    YAML::Mark last;

  private:
    uint32_t push(const YAML::Mark& mark, YAML::anchor_t anchor, Type type) {
        auto node = static_cast<uint32_t>(t_.nodes.size());
        Node& n = t_.nodes.emplace_back();
        n.type = type;
        n.line = mark.line;
        n.column = mark.column;
        if (anchor != 0) {
            if (anchors_.size() <= anchor)
                anchors_.resize(anchor + 1, kNone);
            anchors_[anchor] = node;
        }
        return node;
    }

    void add(uint32_t node) {
        if (open_.empty())
            root_ = node;
        else
            pending_.push_back(node);
    }

    // Children of every open collection wait in one stack, innermost last.
    void open(uint32_t node) { open_.push_back({node, pending_.size()}); }

    void close() {
        if (open_.empty())
            return;
        auto [node, start] = open_.back();
        open_.pop_back();
        Node& n = t_.nodes[node];
        n.first = static_cast<uint32_t>(t_.children.size());
        n.count = static_cast<uint32_t>(pending_.size() - start);
        t_.children.insert(t_.children.end(), pending_.begin() + static_cast<ptrdiff_t>(start),
                           pending_.end());
        pending_.resize(start);
        add(node);
    }

    struct Open {
        uint32_t node;
        size_t start; // in pending_
    };

    Tree& t_;
    std::vector<uint32_t> anchors_; // by yaml-cpp anchor id, per document
    std::vector<Open> open_;
    std::vector<uint32_t> pending_;
    uint32_t root_ = kNone;
};

} // namespace

Tree load_all(std::string_view text) {
    Tree tree;
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    Builder builder(tree);
    // A document needs at least a line of its own, but for the first and last.
    size_t limit = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 2;
    while (parser.HandleNextDocument(builder)) {
        if (builder.documents > limit) {
            std::string what = "unexpected character";
            if (builder.last.pos >= 0 && static_cast<size_t>(builder.last.pos) < text.size()) {
                char c = text[static_cast<size_t>(builder.last.pos)];
                if (c > ' ' && c < 127)
                    what = std::string("unexpected '") + c + "'";
            }
            throw YAML::ParserException(builder.last, what);
        }
        tree.documents.push_back(builder.take_root());
    }
    return tree;
}

} // namespace podguard::policy::yaml
