// `podguard events`: the responder's view of the store.
//
//   podguard events [--store PATH] [--since T] [--until T] [--namespace N] [--pod P]
//                   [--container C] [--kind K] [--relation R] [--action A] [--pid N]
//                   [--limit N] [--order asc|desc] [--output table|json] [--follow]
//   podguard events verify [--store PATH]
//
// args are the words after "events". Exit codes: 0 ok, 1 runtime error or a
// broken chain (verify), 2 usage error.
#pragma once

#include <atomic>
#include <ostream>
#include <string>
#include <vector>

namespace podguard {

// stop (optional) ends --follow; without it --follow runs until killed.
int events_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const std::atomic<bool>* stop = nullptr);

} // namespace podguard
