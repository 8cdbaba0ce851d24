// Helpers for the metrics suites: HTTP over libcurl, running tools, parsing
// the text exposition, and building Event values.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "events/event.h"

namespace podguard::metrics_test {

struct HttpResponse {
    long status = 0;
    std::string body;
    std::string error; // curl error, empty on transport success
};

HttpResponse http_get(const std::string& url, long timeout_ms = 5000);
std::string url_encode(const std::string& text);

struct CommandResult {
    int exit_code = -1;
    std::string output; // stdout and stderr
};

// Runs argv (no shell), optionally feeding stdin_data, and waits.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_data = "");

// Path of an executable on PATH or in /usr/bin, empty when absent.
std::string find_tool(const std::string& name);

// A port that was free a moment ago on 127.0.0.1.
int free_port();

std::string source_dir(); // the repository root
std::string read_file(const std::string& path);

// Creates a temporary directory removed (recursively) on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

// One sample line of a text exposition.
struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};
std::vector<Sample> parse_exposition(const std::string& text);
// Value of the one sample with this name whose labels include `labels`;
// nullopt when there is none.
std::optional<double> sample_value(const std::vector<Sample>& samples, const std::string& name,
                                   const std::map<std::string, std::string>& labels = {});
std::size_t count_series(const std::vector<Sample>& samples, const std::string& name);
// Metric family names declared by # TYPE lines.
std::set<std::string> declared_families(const std::string& text);

// An event of container `container` in pod namespace/pod acting on a sibling
// container of the same pod.
Event pod_event(const std::string& ns, const std::string& pod, const std::string& container,
                EventKind kind, Relation relation, Action action);

} // namespace podguard::metrics_test
