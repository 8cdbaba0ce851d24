// One stored event as the store's rows hold it, and the bytes its hash
// covers. Built on the pipeline thread (make_record), hashed and written on
// the store's writer thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "events/event.h"

// OpenSSL's EVP_MD and EVP_MD_CTX, without its headers.
struct evp_md_st;
struct evp_md_ctx_st;

namespace podguard {

using Sha256 = std::array<uint8_t, 32>;

// The indexed identity of one side of an event. Empty strings are stored
// as NULL.
struct RecordParty {
    std::string namespace_;
    std::string pod;     // pod name (metadata), may be empty
    std::string pod_uid; // Kubernetes pod UID or libpod pod id
    std::string container_id;
    std::string container_name;
    uint32_t pid = 0; // host pid, 0 when unknown
};

struct StoreRecord {
    int64_t id = 0; // assigned by the store: previous id + 1
    uint64_t time_ns = 0;
    std::string kind;
    std::string action;
    std::string relation;
    RecordParty source;
    RecordParty target;
    std::string json; // the event contract's JSON, as written to the stream
    // SHA-256 of the content bytes, when make_record computed it (on the
    // pipeline thread, so that the writer's chain step hashes 72 bytes
    // instead of the whole event).
    std::optional<Sha256> digest;
};

StoreRecord make_record(const Event& event);

// Length-prefixed, big-endian serialization of every column but the hashes:
// changing any column, or moving a value between columns, changes it.
void append_canonical_bytes(const StoreRecord& record, std::string& out);

// The chain (OpenSSL EVP). Row n's hash is
//   SHA-256(row n-1's hash || id as 8 bytes big-endian || SHA-256(content)),
// content being the canonical bytes without the id; rows written before
// this construction (store version 1) hash prev || canonical bytes (v1).
// One per thread: it keeps a fetched digest and a context, which OpenSSL 3
// makes costly to create per record.
class ChainHasher {
  public:
    ChainHasher();
    ~ChainHasher();
    ChainHasher(const ChainHasher&) = delete;
    ChainHasher& operator=(const ChainHasher&) = delete;
    // Uses record.digest when set.
    Sha256 hash(const Sha256& prev, const StoreRecord& record);
    Sha256 content_digest(const StoreRecord& record);
    Sha256 hash_v1(const Sha256& prev, const StoreRecord& record);

  private:
    Sha256 digest_of(std::string_view head, std::string_view tail);
    ::evp_md_st* md_ = nullptr;
    ::evp_md_ctx_st* ctx_ = nullptr;
    std::string scratch_;
};

std::string to_hex(const Sha256& hash);
// Sha256 of a BLOB column; false when the size is not 32.
bool hash_from_blob(const void* data, int size, Sha256& out);

} // namespace podguard
