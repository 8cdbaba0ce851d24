#include "policy/load.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "policy/parse.h"
#include "policy/validate.h"

namespace podguard::policy {
namespace {

const char kDefaultPolicy[] =
#include "policy/default_policy.inc"
    ;

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Source {
    std::string file;
    std::string text;
};

// Expands directories; I/O problems become diagnostics at 1:1 of the path.
void collect(const std::string& path, std::vector<Source>& out, std::vector<Diagnostic>& diags) {
    namespace fs = std::filesystem;
    std::error_code ec;
    auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
        diags.push_back({path, 1, 1, "cannot read: " + (ec ? ec.message() : "no such file")});
        return;
    }
    if (fs::is_directory(st)) {
        std::vector<std::string> files;
        for (auto it = fs::directory_iterator(path, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::string name = it->path().filename().string();
            std::string ext = it->path().extension().string();
            if (name.empty() || name[0] == '.' || (ext != ".yaml" && ext != ".yml"))
                continue;
            if (fs::is_regular_file(it->path(), ec)) // follows ConfigMap symlinks
                files.push_back(it->path().string());
        }
        if (ec) {
            diags.push_back({path, 1, 1, "cannot list directory: " + ec.message()});
            return;
        }
        if (files.empty()) {
            diags.push_back({path, 1, 1, "no *.yaml or *.yml files in directory"});
            return;
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files)
            collect(f, out, diags);
        return;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.push_back({path, 1, 1, "cannot open file"});
        return;
    }
    // Up to one byte past the limit, in chunks: a policy is a few KiB to a few
    // hundred, and a 4 MiB buffer zeroed on every reload was not free.
    std::string text;
    char chunk[64 * 1024];
    while (text.size() <= kMaxPolicyFileBytes) {
        size_t want = std::min(sizeof chunk, kMaxPolicyFileBytes + 1 - text.size());
        in.read(chunk, static_cast<std::streamsize>(want));
        text.append(chunk, static_cast<size_t>(in.gcount()));
        if (!in)
            break;
    }
    if (text.size() > kMaxPolicyFileBytes) {
        diags.push_back(
            {path, 1, 1, "file is larger than " + std::to_string(kMaxPolicyFileBytes) + " bytes"});
        return;
    }
    out.push_back({path, std::move(text)});
}

Result<PolicySet> finish(const std::vector<Source>& sources, std::vector<Diagnostic> diags,
                         std::vector<Diagnostic>* out, LoadProfile* profile) {
    PolicySet set;
    auto start = Clock::now();
    for (const auto& s : sources) {
        ParseOutput p = parse_documents(s.text, s.file);
        diags.insert(diags.end(), std::make_move_iterator(p.diagnostics.begin()),
                     std::make_move_iterator(p.diagnostics.end()));
        for (auto& d : p.documents)
            set.policies.push_back(std::move(d));
        set.files.push_back(s.file);
    }
    if (profile)
        profile->parse_ms = ms_since(start);
    start = Clock::now();
    auto v = validate(set.policies);
    diags.insert(diags.end(), v.begin(), v.end());
    if (!diags.empty()) {
        // Files in the order they were named, then by position within each.
        std::vector<std::string> order;
        for (const auto& d : diags)
            if (std::find(order.begin(), order.end(), d.file) == order.end())
                order.push_back(d.file);
        auto rank = [&](const std::string& f) {
            return std::find(order.begin(), order.end(), f) - order.begin();
        };
        std::stable_sort(diags.begin(), diags.end(), [&](const Diagnostic& a, const Diagnostic& b) {
            auto ra = rank(a.file), rb = rank(b.file);
            if (ra != rb)
                return ra < rb;
            if (a.line != b.line)
                return a.line < b.line;
            return a.column < b.column;
        });
        if (diags.size() > kMaxDiagnostics) {
            diags.resize(kMaxDiagnostics);
            diags.push_back({diags.back().file, diags.back().line, diags.back().column,
                             "too many errors, stopping here"});
        }
        std::string message;
        for (const auto& d : diags)
            message += format(d) + "\n";
        if (out)
            *out = std::move(diags);
        return make_error(std::move(message));
    }
    if (out)
        out->clear();
    sort_by_precedence(set.policies);
    if (profile)
        profile->validate_ms = ms_since(start);
    return set;
}

} // namespace

void sort_by_precedence(std::vector<PolicyDocument>& docs) {
    std::stable_sort(docs.begin(), docs.end(),
                     [](const PolicyDocument& a, const PolicyDocument& b) {
                         int64_t pa = a.priority ? a.priority->value : 0;
                         int64_t pb = b.priority ? b.priority->value : 0;
                         if (pa != pb)
                             return pa > pb;
                         return a.name.value < b.name.value;
                     });
}

Result<PolicySet> load_policies(const std::vector<std::string>& paths,
                                std::vector<Diagnostic>* diagnostics, LoadProfile* profile) {
    auto start = Clock::now();
    std::vector<Source> sources;
    std::vector<Diagnostic> diags;
    if (paths.empty())
        diags.push_back({"(none)", 1, 1, "no policy files given"});
    for (const auto& p : paths)
        collect(p, sources, diags);
    if (profile)
        profile->read_ms = ms_since(start);
    return finish(sources, std::move(diags), diagnostics, profile);
}

Result<PolicySet> load_policy_text(std::string_view text, const std::string& file,
                                   std::vector<Diagnostic>* diagnostics) {
    return finish({Source{file, std::string(text)}}, {}, diagnostics, nullptr);
}

std::string_view default_policy_yaml() {
    return {kDefaultPolicy, sizeof(kDefaultPolicy) - 1};
}

Result<PolicySet> load_default_policy() {
    return load_policy_text(default_policy_yaml(), "<embedded default.yaml>");
}

} // namespace podguard::policy
