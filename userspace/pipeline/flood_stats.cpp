#include "pipeline/flood_stats.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "events/names.h"

namespace podguard {

uint64_t FloodTotals::lost_acts() const {
    uint64_t n = 0;
    for (const auto& cls : kernel.lost)
        for (uint64_t v : cls)
            n += v;
    return n;
}

uint64_t FloodTotals::unsummarized() const {
    return kernel.aggregated >= kernel.summarized ? kernel.aggregated - kernel.summarized : 0;
}

FloodTotals read_flood_totals(int flood_fd) {
    FloodTotals t;
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0)
        return t;
    std::vector<pg_flood_counters> per_cpu(ncpu);
    uint32_t key = 0;
    if (bpf_map_lookup_elem(flood_fd, &key, per_cpu.data()) != 0)
        return t;
    for (const auto& c : per_cpu) {
        for (int k = 0; k < PG_CLASS_MAX; ++k) {
            for (int r = 0; r < PG_DROP_MAX; ++r)
                t.kernel.lost[k][r] += c.lost[k][r];
            t.kernel.sent[k] += c.sent[k];
        }
        t.kernel.aggregated += c.aggregated;
        t.kernel.summarized += c.summarized;
        t.kernel.demoted += c.demoted;
        t.kernel.table_full += c.table_full;
    }
    return t;
}

std::vector<SourceFlood> read_source_floods(int fair_fd) {
    std::vector<SourceFlood> out;
    uint64_t key = 0, next = 0;
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fair_fd, prev, &next) == 0) {
        SourceFlood s;
        s.cgroup_id = next;
        if (bpf_map_lookup_elem(fair_fd, &next, &s.bucket) == 0)
            out.push_back(s);
        key = next;
        prev = &key;
    }
    return out;
}

std::string format_flood_totals(const FloodTotals& t, const PipelineStats& read) {
    std::string out = "{\"sent\":{";
    for (int k = 0; k < PG_CLASS_MAX; ++k)
        out += fmt::format("{}\"{}\":{}", k ? "," : "", event_class_name(k), t.kernel.sent[k]);
    out += "},\"lost_acts\":{";
    for (int k = 0; k < PG_CLASS_MAX; ++k)
        for (int r = 0; r < PG_DROP_MAX; ++r)
            out += fmt::format("{}\"{}/{}\":{}", k || r ? "," : "", event_class_name(k),
                               drop_reason_name(r), t.kernel.lost[k][r]);
    out += fmt::format("}},\"lost_acts_total\":{},\"aggregated\":{},\"summarized\":{},"
                       "\"unsummarized\":{},\"demoted\":{},\"table_full\":{},"
                       "\"summaries_read\":{},\"summary_acts_read\":{},\"records_read\":{}}}",
                       t.lost_acts(), t.kernel.aggregated, t.kernel.summarized, t.unsummarized(),
                       t.kernel.demoted, t.kernel.table_full, read.summaries, read.summary_acts,
                       read.records);
    return out;
}

} // namespace podguard
