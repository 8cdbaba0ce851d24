// Thin RAII over the sqlite3 C API for the store: statements, and errors as
// values that keep the SQLite result code (disk full, I/O error, ...).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace podguard::sqlite {

class Stmt {
  public:
    Stmt() = default;
    Stmt(sqlite3* db, std::string_view sql);
    ~Stmt() { sqlite3_finalize(stmt_); }
    Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), rc_(other.rc_) { other.stmt_ = nullptr; }
    Stmt& operator=(Stmt&& other) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    bool ok() const { return stmt_ != nullptr; }
    int prepare_rc() const { return rc_; }
    sqlite3_stmt* get() const { return stmt_; }

    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
    // Empty text binds NULL: absent identities take no index space.
    void bind_text_or_null(int i, std::string_view s) {
        if (s.empty())
            sqlite3_bind_null(stmt_, i);
        else
            sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    }
    void bind_text(int i, std::string_view s) {
        sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    }
    void bind_blob(int i, const void* data, int size) {
        sqlite3_bind_blob(stmt_, i, data, size, SQLITE_STATIC);
    }
    int step() { return sqlite3_step(stmt_); }

    int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
    std::string column_text(int i) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
                 : std::string();
    }
    bool column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

  private:
    sqlite3_stmt* stmt_ = nullptr;
    int rc_ = SQLITE_OK;
};

// "what: message (code name)" from the connection's last error.
Error error(sqlite3* db, std::string_view what);
Status exec(sqlite3* db, const char* sql);

} // namespace podguard::sqlite
