#include "store/process_records.h"

#include <cstring>
#include <unordered_map>

#include "output/json_event.h"

namespace podguard {

namespace {

constexpr std::string_view kMemberHead = ",\"ancestry\":[";

struct CachedProcess {
    std::string exe;
    std::string args;
    std::string container_id; // "\0" for the host: never a container id
    ProcessRef entry;
};

std::string_view container_of(const AncestorInfo& a) {
    return a.container ? std::string_view(a.container->id) : std::string_view("\0", 1);
}

} // namespace

ProcessRef process_entry(const AncestorInfo& a) {
    // The pipeline thread's processes: bounded, forgotten whole when full
    // (entries still held by queued records stay alive through them).
    constexpr size_t kMaxRemembered = 8192;
    thread_local std::unordered_map<uint64_t, CachedProcess> remembered;
    const uint64_t key = (uint64_t(a.pid) << 40) ^ a.start_ns;
    auto it = remembered.find(key);
    if (it != remembered.end() && it->second.exe == a.exe && it->second.args == a.args &&
        it->second.container_id == container_of(a))
        return it->second.entry;
    if (remembered.size() >= kMaxRemembered)
        remembered.clear();
    auto entry = std::make_shared<ProcessEntry>();
    entry->pid = a.pid;
    entry->start_ns = a.start_ns;
    append_ancestor_json(a, entry->json);
    entry->digest = sha256(entry->json);
    CachedProcess c{a.exe, a.args, std::string(container_of(a)), entry};
    remembered.insert_or_assign(key, std::move(c));
    return entry;
}

void cut_ancestry(const Event& e, const std::string& json, StoreRecord& r) {
    r.ancestry.clear();
    r.ancestry_at = -1;
    if (e.ancestry.empty()) {
        r.json = json;
        return;
    }
    r.ancestry.reserve(e.ancestry.size());
    size_t member = kMemberHead.size() + 1; // "]"
    for (const AncestorInfo& a : e.ancestry) {
        r.ancestry.push_back(process_entry(a));
        member += r.ancestry.back()->json.size() + 1; // "," or the "]" counted above
    }
    member -= 1;
    // The last member but "stack": without stacks it ends just before the
    // closing brace (no search over the whole line). Else found by its head,
    // which is structural: inside a JSON string every '"' is escaped.
    size_t at = json.size() >= member + 1 ? json.size() - 1 - member : std::string::npos;
    if (at == std::string::npos || json.compare(at, kMemberHead.size(), kMemberHead) != 0)
        at = json.rfind(kMemberHead);
    bool same = at != std::string::npos && at + member <= json.size();
    if (same) {
        size_t pos = at + kMemberHead.size();
        for (size_t i = 0; same && i < r.ancestry.size(); ++i) {
            const std::string& entry = r.ancestry[i]->json;
            same = json.compare(pos, entry.size(), entry) == 0 &&
                   json[pos + entry.size()] == (i + 1 == r.ancestry.size() ? ']' : ',');
            pos += entry.size() + 1;
        }
    }
    if (!same) {
        r.ancestry.clear();
        r.json = json;
        return;
    }
    r.json.clear();
    r.json.reserve(json.size() - member);
    r.json.append(json, 0, at);
    r.json.append(json, at + member, std::string::npos);
    r.ancestry_at = static_cast<int64_t>(at);
}

std::string splice_ancestry(const StoreRecord& r) {
    if (r.ancestry_at < 0 || size_t(r.ancestry_at) > r.json.size())
        return r.json;
    std::string out;
    size_t member = kMemberHead.size() + 1;
    for (const ProcessRef& p : r.ancestry)
        member += (p ? p->json.size() : 0) + 1;
    out.reserve(r.json.size() + member);
    const size_t at = size_t(r.ancestry_at);
    out.append(r.json, 0, at);
    out += kMemberHead;
    for (const ProcessRef& p : r.ancestry) {
        if (p)
            out += p->json;
        out += ',';
    }
    if (out.back() == ',')
        out.back() = ']';
    else
        out += ']';
    out.append(r.json, at, std::string::npos);
    return out;
}

std::string encode_process_ids(const std::vector<int64_t>& ids) {
    std::string out;
    out.reserve(ids.size() * 8);
    for (int64_t id : ids)
        for (int shift = 56; shift >= 0; shift -= 8)
            out += static_cast<char>((uint64_t(id) >> shift) & 0xff);
    return out;
}

bool decode_process_ids(const void* data, int size, std::vector<int64_t>& out) {
    out.clear();
    if (size < 0 || size % 8 != 0 || (size && !data))
        return false;
    const auto* b = static_cast<const unsigned char*>(data);
    for (int i = 0; i < size; i += 8) {
        uint64_t v = 0;
        for (int k = 0; k < 8; ++k)
            v = v << 8 | b[i + k];
        out.push_back(static_cast<int64_t>(v));
    }
    return true;
}

} // namespace podguard
