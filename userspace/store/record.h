// One stored event as the store's rows hold it, and the bytes its hash
// covers. Built on the pipeline thread (make_record), hashed and written on
// the store's writer thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
    bool operator==(const RecordParty&) const = default;
};

// One process of an event's ancestry as the store keeps it: once per
// process (the same shell, runtime and host init come back in event after
// event), its entry of the "ancestry" array as the stream wrote it. A
// process that execs again is a new record (its exe and args changed).
struct ProcessEntry {
    uint32_t pid = 0;
    uint64_t start_ns = 0;
    std::string json; // {"pid":...,"start_ns":...,"exe":...,"args":...,"container_id":...}
    Sha256 digest{};  // SHA-256 of json: what the events referring to it chain
};
using ProcessRef = std::shared_ptr<const ProcessEntry>;

struct StoreRecord {
    int64_t id = 0; // assigned by the store: previous id + 1
    uint64_t time_ns = 0;
    std::string kind;
    std::string action;
    std::string relation;
    RecordParty source;
    RecordParty target;
    // The event contract's JSON, as written to the stream; in a record with
    // process_refs, without its "ancestry" member, which was cut out at byte
    // ancestry_at (-1: none) and lives in the process records of `ancestry`.
    // Queries return the whole JSON (whole_json()).
    std::string json;
    bool process_refs = false; // the layout of store version 3 (record.h's chain)
    int64_t ancestry_at = -1;
    std::vector<ProcessRef> ancestry;
    // SHA-256 of the content bytes, when make_record computed it (on the
    // pipeline thread, so that the writer's chain step hashes 72 bytes
    // instead of the whole event).
    std::optional<Sha256> digest;

    // The JSON with its ancestry spliced back in: byte for byte the stream's.
    std::string whole_json() const;
};

StoreRecord make_record(const Event& event);

// The chain (OpenSSL EVP). Row n's hash is
//   SHA-256(row n-1's hash || id as 8 bytes big-endian || SHA-256(content)),
// content being the length-prefixed, big-endian serialization of every
// column but id and the hashes (changing any column, or moving a value
// between columns, changes it). With process_refs (store version 3) the
// content ends with where the ancestry was cut and the digest of each
// process record it refers to: an edited or deleted process record breaks
// every event that refers to it. Rows written by version 1 hash
// prev || id || content (hash_v1).
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
    Sha256 digest(std::string_view bytes) { return digest_of(bytes, {}); }

  private:
    Sha256 digest_of(std::string_view head, std::string_view body, std::string_view tail = {});
    ::evp_md_st* md_ = nullptr;
    ::evp_md_ctx_st* ctx_ = nullptr;
    std::string scratch_;
    std::string trailer_;
};

Sha256 sha256(std::string_view bytes);

std::string to_hex(const Sha256& hash);
// Sha256 of a BLOB column; false when the size is not 32.
bool hash_from_blob(const void* data, int size, Sha256& out);

} // namespace podguard
