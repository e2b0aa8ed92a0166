// The timer heap is a template only so that bench/timer_heap_bench.cpp can
// build the arities it compares from the same code; the core uses one. Its
// instantiation here compiles every member with the library's warnings.
#include "timer_heap.hpp"

namespace event_manager::detail {

template class BasicTimerHeap<timer_heap_arity>;

}  // namespace event_manager::detail
