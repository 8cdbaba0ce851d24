#include "store/sqlite_util.h"

#include <fmt/format.h>

namespace podguard::sqlite {

Stmt::Stmt(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc_ != SQLITE_OK) {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
    }
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        stmt_ = other.stmt_;
        rc_ = other.rc_;
        other.stmt_ = nullptr;
    }
    return *this;
}

Error error(sqlite3* db, std::string_view what) {
    int code = sqlite3_extended_errcode(db);
    return make_error(fmt::format("{}: {} ({})", what, sqlite3_errmsg(db), sqlite3_errstr(code)));
}

Status exec(sqlite3* db, const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string text = msg ? msg : sqlite3_errmsg(db);
        sqlite3_free(msg);
        return make_error(text);
    }
    return {};
}

} // namespace podguard::sqlite
