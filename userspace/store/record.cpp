#include "store/record.h"

#include "events/kinds.h"

#include <algorithm>
#include <cstring>
#include <openssl/evp.h>
#include <stdexcept>

#include "output/json_event.h"
#include "store/process_records.h"

namespace podguard {

namespace {

RecordParty party_of(const Party& p) {
    RecordParty r;
    if (!p.known)
        return r;
    r.pid = p.pid;
    if (p.container) {
        r.container_id = p.container->id;
        r.container_name = p.container->name;
        r.pod_uid = p.container->pod_uid;
    }
    if (p.pod) {
        r.namespace_ = p.pod->namespace_;
        r.pod = p.pod->name;
        if (!p.pod->uid.empty())
            r.pod_uid = p.pod->uid;
    }
    return r;
}

void put_u64(std::string& out, uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out += static_cast<char>((v >> shift) & 0xff);
}

void put_u32(std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out += static_cast<char>((v >> shift) & 0xff);
}

void put_str(std::string& out, std::string_view s) {
    put_u32(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}

void put_party(std::string& out, const RecordParty& p) {
    put_str(out, p.namespace_);
    put_str(out, p.pod);
    put_str(out, p.pod_uid);
    put_str(out, p.container_id);
    put_str(out, p.container_name);
    put_u32(out, p.pid);
}

} // namespace

StoreRecord make_record(const Event& e) {
    StoreRecord r;
    r.time_ns = e.time_ns;
    r.kind = to_string(e.kind);
    r.action = to_string(e.action);
    r.relation = to_string(e.relation);
    r.source = party_of(e.source);
    if (!is_lifecycle(e.kind))
        r.target = party_of(e.target);
    // The stream's rendering (a copy instead of a second render), its
    // ancestry moved into process records.
    r.process_refs = true;
    cut_ancestry(e, event_json(e), r);
    thread_local ChainHasher hasher;
    r.digest = hasher.content_digest(r);
    return r;
}

namespace {

// Content bytes up to the JSON's length prefix: every column but id and the
// hashes. The JSON comes last, so the hasher feeds it from the record
// instead of copying it.
void append_content_head(const StoreRecord& r, std::string& out) {
    put_u64(out, r.time_ns);
    put_str(out, r.kind);
    put_str(out, r.action);
    put_str(out, r.relation);
    put_party(out, r.source);
    put_party(out, r.target);
    put_u32(out, static_cast<uint32_t>(r.json.size()));
}

// Version 3 rows: where the ancestry was cut and the process records it
// refers to, by digest.
void append_process_trailer(const StoreRecord& r, std::string& out) {
    put_u64(out, static_cast<uint64_t>(r.ancestry_at + 1));
    put_u32(out, static_cast<uint32_t>(r.ancestry.size()));
    static const Sha256 kMissing{};
    for (const ProcessRef& p : r.ancestry) {
        const Sha256& d = p ? p->digest : kMissing;
        out.append(reinterpret_cast<const char*>(d.data()), d.size());
    }
}

} // namespace

std::string StoreRecord::whole_json() const {
    return splice_ancestry(*this);
}

ChainHasher::ChainHasher() {
    md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    ctx_ = EVP_MD_CTX_new();
    if (!md_ || !ctx_)
        throw std::runtime_error("OpenSSL: no SHA-256");
}

ChainHasher::~ChainHasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
}

Sha256 ChainHasher::digest_of(std::string_view head, std::string_view body, std::string_view tail) {
    Sha256 out{};
    unsigned int len = 0;
    if (!EVP_DigestInit_ex(ctx_, md_, nullptr) ||
        !EVP_DigestUpdate(ctx_, head.data(), head.size()) ||
        !EVP_DigestUpdate(ctx_, body.data(), body.size()) ||
        !EVP_DigestUpdate(ctx_, tail.data(), tail.size()) ||
        !EVP_DigestFinal_ex(ctx_, out.data(), &len) || len != out.size())
        throw std::runtime_error("OpenSSL: SHA-256 failed");
    return out;
}

Sha256 ChainHasher::content_digest(const StoreRecord& record) {
    scratch_.clear();
    append_content_head(record, scratch_);
    trailer_.clear();
    if (record.process_refs)
        append_process_trailer(record, trailer_);
    return digest_of(scratch_, record.json, trailer_);
}

Sha256 ChainHasher::hash(const Sha256& prev, const StoreRecord& record) {
    const Sha256 content = record.digest ? *record.digest : content_digest(record);
    scratch_.clear();
    scratch_.append(reinterpret_cast<const char*>(prev.data()), prev.size());
    put_u64(scratch_, static_cast<uint64_t>(record.id));
    return digest_of(
        scratch_, std::string_view(reinterpret_cast<const char*>(content.data()), content.size()));
}

Sha256 ChainHasher::hash_v1(const Sha256& prev, const StoreRecord& record) {
    scratch_.clear();
    scratch_.append(reinterpret_cast<const char*>(prev.data()), prev.size());
    put_u64(scratch_, static_cast<uint64_t>(record.id));
    append_content_head(record, scratch_);
    return digest_of(scratch_, record.json);
}

Sha256 sha256(std::string_view bytes) {
    thread_local ChainHasher hasher;
    return hasher.digest(bytes);
}

std::string to_hex(const Sha256& hash) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(64);
    for (uint8_t b : hash) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

bool hash_from_blob(const void* data, int size, Sha256& out) {
    if (!data || size != static_cast<int>(out.size()))
        return false;
    std::memcpy(out.data(), data, out.size());
    return true;
}

} // namespace podguard
