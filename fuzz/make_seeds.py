#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/ (run from anywhere).

The encoding is the one model_fuzzer.cpp's do_op() reads: one byte picks the
operation (value % 32), the following bytes its operands. Operand bytes that
pick an fd index the candidate list [open eventfds by number, M0 table fds,
M1 table fds, /dev/null, the manager's own epoll fd, its wake-up eventfd, a
closed number, its timerfd once opened]. Timer operands index [the manager's
timers in creation order, the other manager's, the null id]. Every callback
(init(), process() of an fd event, an injection or a timer, a request) reads
one byte first: how many operations it runs (% 4 for init(), % 3 otherwise)
and whether it throws ((b / 4) % 8 == 7, (b / 3) % 8 == 7).
"""
import os

ADD, MODIFY, REMOVE, REGISTERED = 0, 1, 2, 3
CREATE, CLOSE, DUP, WRITE, READ = 4, 5, 6, 7, 9
ADD_SUB, REMOVE_SUB, FIRE, RUN, KICK, CALL_BLOCKING, SUB_MUT = 10, 11, 12, 13, 15, 16, 17
M_NONE, M_IN, M_OUT, M_INOUT, M_IN_ET, M_IN_ONESHOT, M_INOUT_ET = range(7)
M_IN_TIMER = 11  # EventSet::timer: EINVAL
# v4
INJECT, ADD_TIMER, ARM, DISARM, REMOVE_TIMER, DEADLINE, PAUSE, RESUME, PAUSED = 20, 22, 23, 25, 26, 27, 28, 30, 31
I_IN, I_OUT, I_INOUT, I_ERRHUP, I_RDHUP_PRI, I_NONE, I_ET, I_IN_ONESHOT = range(8)  # the last three: EINVAL
# arm(): relative 0 / duration::min() (due), +1 h / duration::max() (future); absolute 0, 1, 2 ns,
# time_point::min() (due), time_point::max() / now + 1 h (future)
A_NOW, A_MIN, A_HOUR, A_MAX, A_AT0, A_AT1, A_AT2, A_AT_MIN, A_AT_MAX, A_AT_HOUR = 0, 2, 3, 4, 5, 6, 7, 8, 9, 19
P_ONCE, P_FAR, P_SATURATED, P_NEG, P_MIN = 0, 3, 4, 5, 6  # periods: 0, 2^62 ns, max; -1 ns and min: EINVAL
SELF = "self"  # the running subscriber's own EventOps


def via_id(which, mgr, sub, fd, mask=M_IN, data=1, kept=False):
    """Interest op through event_ops(id) (or the handle kept from init())."""
    out = [which, mgr, sub, 0 if kept else 1, fd]
    if which in (ADD, MODIFY):
        out += [mask, data]
    elif which == REMOVE:
        out += [0, 0]  # mask and data bytes are read but unused
    else:
        out += [0, 0]
    return out


def via_self(which, fd, mask=M_IN, data=1):
    """Interest op through the running subscriber's own EventOps."""
    return [which, 1, fd, mask, data]


def target(who):
    """The EventOps a v4 operation goes through: SELF, or (mgr, sub) by event_ops()
    at top level, or ("in_callback", mgr, sub) by event_ops() from a callback."""
    if who == SELF:
        return [1]
    if who[0] == "in_callback":
        return [0, who[1], who[2], 1]
    return [who[0], who[1], 1]


def inject(who, fd, ready=I_IN):
    return [INJECT] + target(who) + [fd, ready]


def add_timer(who, data=1):
    return [ADD_TIMER] + target(who) + [data]


def arm(who, timer, how=A_AT0, period=P_ONCE):
    return [ARM] + target(who) + [timer, how, period]


def timer_op(op, who, timer):
    return [op] + target(who) + [timer]


def write(idx, value=1):
    return [WRITE, idx, value - 1]


seeds = {
    # Level-triggered, in|out and edge-triggered registrations made in init().
    "basic_value": [CREATE, 0, CREATE, 0, CREATE, 1,
                    ADD_SUB, 0, 3] + via_self(ADD, 0, M_IN, 10) + via_self(ADD, 1, M_INOUT, 11)
                   + via_self(ADD, 2, M_IN_ET, 12)
                   + write(0) + write(1) + [RUN, 0, 0, 0, 0] + [READ, 0] + [RUN, 0, 0, 0, 0] + write(2, 2)
                   + [RUN, 0, 0, 0, 0, RUN, 0, 0, 0],
    "basic_dynamic": [CREATE, 0, CREATE, 0,
                      ADD_SUB, 1, 2] + via_self(ADD, 0, M_IN, 20) + via_self(ADD, 1, M_IN_ONESHOT, 21)
                     + write(0) + write(1) + [RUN, 1, 0, 0, RUN, 1, 0] + via_id(MODIFY, 1, 0, 1, M_IN_ONESHOT, 22)
                     + [RUN, 1, 0],
    # process() of the first fd masks the second one out: it must not be delivered.
    "modify_masks_out_in_batch": [ADD_SUB, 0, 0, CREATE, 0, CREATE, 0]
                                 + via_id(ADD, 0, 0, 0, M_IN, 1) + via_id(ADD, 0, 0, 1, M_IN, 2)
                                 + write(0) + write(1) + [RUN, 0, 1] + via_self(MODIFY, 1, M_OUT, 5) + [0],
    # process() of the first fd removes and re-adds the second: its event is stale.
    "remove_readd_in_batch": [ADD_SUB, 0, 0, CREATE, 0, CREATE, 0]
                             + via_id(ADD, 0, 0, 0, M_IN, 1) + via_id(ADD, 0, 0, 1, M_IN, 2)
                             + write(0) + write(1) + [RUN, 0, 2] + via_self(REMOVE, 1, 0, 0)
                             + via_self(ADD, 1, M_IN, 3) + [0, RUN, 0, 0, 0],
    # close() behind the manager's back with a dup alive, remove(), reuse the
    # number, then re-add the same file under the same number (takeover).
    "leftover_takeover": [ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 7)
                         + [DUP, 0, CLOSE, 0] + via_id(REMOVE, 0, 0, 1) + [CREATE, 0]
                         + via_id(ADD, 0, 0, 0, M_IN, 9) + write(1) + [RUN, 0, 0]
                         + [CLOSE, 0] + via_id(REMOVE, 0, 0, 1) + [DUP, 0]
                         + via_id(ADD, 0, 0, 0, M_IN, 11) + write(0) + [RUN, 0, 0, RUN, 0, 0],
    # Requests on both managers, fired from requests and from process().
    "requests": [ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1)
                + [FIRE, 0, FIRE, 1, KICK, 0] + write(0)
                + [RUN, 0, 1, FIRE, 0, 2, FIRE, 0, ADD_SUB, 1, 0, 0]
                + [RUN, 1, 1, KICK, 1, RUN, 0, 0, 0, RUN, 1, 0, RUN, 0, 0],
    # Reentrancy: run() (Reentrant), call_blocking() (WouldDeadlock), removing
    # oneself (Reentrant) from process(), and from init().
    "reentrancy": [ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1) + write(0)
                  + [RUN, 0, 2, RUN, 0, CALL_BLOCKING, 0, 1, REMOVE_SUB, 0, 0]
                  + [ADD_SUB, 1, 2, RUN, 1, REMOVE_SUB, 1, 0],
    # Stale and null ids: removed subscriber, kept EventOps handle, null id.
    "stale_ids": [ADD_SUB, 0, 0, ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1)
                 + [REMOVE_SUB, 0, 0, REMOVE_SUB, 0, 0, SUB_MUT, 0, 0, SUB_MUT, 0, 15]
                 + via_id(ADD, 0, 0, 0, M_IN, 2, kept=True) + via_id(REGISTERED, 0, 0, 0, kept=True)
                 + [REMOVE_SUB, 0, 15, ADD, 0, 15, 0, M_IN, 1],
    # Foreign fds: /dev/null (EPERM), the manager's epoll fd (EINVAL), its
    # wake-up eventfd (FdAlreadyRegistered), a closed number (EBADF), another
    # subscriber's fd (FdAlreadyRegistered, FdNotRegistered).
    "foreign_fds": [ADD_SUB, 0, 0, ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1)
                   + via_id(ADD, 0, 0, 2, M_IN, 1) + via_id(ADD, 0, 0, 3, M_IN, 1) + via_id(ADD, 0, 0, 4, M_IN, 1)
                   + via_id(ADD, 0, 0, 5, M_IN, 1)
                   + via_id(ADD, 0, 1, 0, M_IN, 1) + via_id(MODIFY, 0, 1, 0, M_OUT, 1)
                   + via_id(REMOVE, 0, 1, 0) + via_id(REGISTERED, 0, 1, 0) + write(0) + [RUN, 0, 0],
    # The number of the manager's own wake-up eventfd: add() must refuse it
    # (it used to take the registration over, and requests never ran again).
    "wake_fd_is_refused": [ADD_SUB, 0, 0] + via_id(ADD, 0, 0, 2, M_IN, 1) + via_id(MODIFY, 0, 0, 2, M_OUT, 1)
                          + via_id(REMOVE, 0, 0, 2) + [FIRE, 0, RUN, 0, 0, FIRE, 1, RUN, 1, 0, RUN, 0],
    # One-shot: fires once, stays disarmed, re-armed by modify().
    "oneshot": [ADD_SUB, 1, 0, CREATE, 0] + via_id(ADD, 1, 0, 0, M_IN_ONESHOT, 4) + write(0)
               + [RUN, 1, 0, RUN, 1] + write(0) + [RUN, 1] + via_id(MODIFY, 1, 0, 0, M_IN_ONESHOT, 5)
               + [RUN, 1, 0, READ, 0] + via_id(MODIFY, 1, 0, 0, M_IN_ONESHOT, 6) + [RUN, 1],
    # close() without remove(): modify with a new mask (EBADF), with the same
    # mask (no syscall, succeeds), remove() (frees it), re-add the number.
    "closed_not_removed": [ADD_SUB, 0, 0, CREATE, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1)
                          + [CLOSE, 0] + via_id(MODIFY, 0, 0, 1, M_OUT, 2) + via_id(MODIFY, 0, 0, 1, M_IN, 3)
                          + via_id(ADD, 0, 0, 1, M_IN, 4) + via_id(REMOVE, 0, 0, 1) + [CREATE, 0]
                          + via_id(ADD, 0, 0, 0, M_IN, 5) + write(0) + [RUN, 0, 0],
    # process() of M0 runs M1 (another manager: allowed) and removes another subscriber.
    "nested_and_remove_other": [ADD_SUB, 0, 0, ADD_SUB, 0, 0, ADD_SUB, 1, 0, CREATE, 0, CREATE, 0]
                               + via_id(ADD, 0, 0, 0, M_IN, 1) + via_id(ADD, 0, 1, 1, M_IN, 2)
                               + via_id(ADD, 1, 0, 0, M_IN, 3) + write(0) + write(1)
                               + [RUN, 0, 2, RUN, 1, 1, FIRE, 1, REMOVE_SUB, 0, 1, 0, RUN, 0, 0],
    # process() throws with a request queued: the batch is dropped, the
    # wake-up is owed, and the next run() dispatches the fd again and runs it.
    "process_throws_owes_wakeup": [ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1) + [FIRE, 0]
                                  + write(0) + [RUN, 0, 21, RUN, 0, 0, 0, RUN, 0, 0],
    # The first of three requests throws: the other two run, in order, next time.
    "request_throws_keeps_order": [FIRE, 0, FIRE, 0, FIRE, 0, RUN, 0, 21, RUN, 0, 0, 0, RUN, 0],
    # init() adds an fd and throws: rolled back, the fd is not registered any more.
    "init_throws_rolls_back": [CREATE, 0, ADD_SUB, 1, 29] + via_self(ADD, 0, M_IN, 3) + write(0)
                              + [RUN, 1, SUB_MUT, 1, 0, ADD_SUB, 1, 1] + via_self(ADD, 0, M_IN, 4) + [RUN, 1, 0],
}

seeds.update({
    # Three timers of one subscriber, due in deadline order (abs 0, abs 1 ns, now),
    # one periodic (fires once: its next deadline is 2^62 ns later); then none.
    "timers_order": [ADD_SUB, 0, 3] + add_timer(SELF, 1) + add_timer(SELF, 2) + add_timer(SELF, 3)
                    + arm((0, 0), 2, A_NOW, P_FAR) + arm((0, 0), 0, A_AT1) + arm((0, 0), 1, A_AT0)
                    + [RUN, 0, 0, 0, 0, RUN, 0] + timer_op(DEADLINE, (0, 0), 2) + timer_op(DEADLINE, (0, 0), 0)
                    + [RUN, 0],
    # A timer re-armed to "now" from its own callback fires in the next run,
    # not the same one; then it is disarmed from an fd event's process().
    "timer_rearm_in_callback": [ADD_SUB, 1, 1] + add_timer(SELF, 9) + [CREATE, 0]
                               + via_id(ADD, 1, 0, 0, M_IN, 4) + arm((1, 0), 0, A_AT_MIN)
                               + [RUN, 1, 1] + arm(SELF, 0, A_NOW) + [RUN, 1, 1] + arm(SELF, 0, A_NOW)
                               + write(0) + [RUN, 1, 1] + timer_op(DISARM, SELF, 0) + [RUN, 1, 0],
    # Disarming, re-arming (to the future) and removing a timer before its turn cancel it.
    "timer_cancel": [ADD_SUB, 0, 3] + add_timer(SELF, 1) + add_timer(SELF, 2) + add_timer(SELF, 3)
                    + arm((0, 0), 0, A_AT0) + arm((0, 0), 1, A_AT1) + arm((0, 0), 2, A_AT2)
                    + [RUN, 0, 2] + timer_op(REMOVE_TIMER, SELF, 1) + arm(SELF, 2, A_HOUR)
                    + [RUN, 0] + timer_op(DEADLINE, (0, 0), 1) + timer_op(DEADLINE, (0, 0), 2),
    # Errors: a negative period (EINVAL), another subscriber's timer and the
    # null id (TimerNotRegistered), a removed timer, a removed subscriber (InvalidId).
    "timer_errors": [ADD_SUB, 0, 1] + add_timer(SELF, 1) + [ADD_SUB, 0, 1] + add_timer(SELF, 2)
                    + arm((0, 0), 0, A_AT0, P_NEG) + arm((0, 0), 0, A_AT0, P_MIN) + arm((0, 0), 1, A_AT0)
                    + arm((0, 0), 2, A_AT0) + timer_op(REMOVE_TIMER, (0, 0), 0) + timer_op(DISARM, (0, 0), 0)
                    + timer_op(DEADLINE, (0, 0), 0) + [REMOVE_SUB, 0, 1] + arm((0, 1), 1, A_AT0, P_ONCE)
                    + [RUN, 0],
    # A paused subscriber's due timer waits for resume(); a timer callback
    # pauses its own subscriber, deferring the next one.
    "timer_paused": [ADD_SUB, 0, 2] + add_timer(SELF, 1) + add_timer(SELF, 2) + arm((0, 0), 0, A_AT0)
                    + [PAUSE, 0, 0, RUN, 0, PAUSED, 0, 0, RESUME, 0, 0, RUN, 0, 0]
                    + arm((0, 0), 0, A_AT0) + arm((0, 0), 1, A_AT1) + [RUN, 0, 1, PAUSE, 0, 0, RUN, 0]
                    + [RESUME, 0, 0, RUN, 0, 0, PAUSED, 0, 0],
    # Injections: delivered first, in order, with the registered data; EINVAL
    # for an empty or non-readiness set; to a muted fd too.
    "inject_order": [ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_NONE, 5) + write(0)
                    + inject((0, 0), 1, I_OUT) + inject((0, 0), 1, I_ERRHUP) + inject((0, 0), 1, I_NONE)
                    + inject((0, 0), 1, I_ET) + via_id(MODIFY, 0, 0, 1, M_IN, 6) + [RUN, 0, 0, 0, 0, RUN, 0, 0],
    # Held while paused, delivered after resume(); dropped when the fd is removed first.
    "inject_paused_dropped": [ADD_SUB, 1, 0, CREATE, 0, CREATE, 0] + via_id(ADD, 1, 0, 0, M_NONE, 1)
                             + via_id(ADD, 1, 0, 1, M_NONE, 2) + [PAUSE, 1, 0] + inject((1, 0), 2, I_IN)
                             + inject((1, 0), 3, I_IN) + [RUN, 1] + via_id(REMOVE, 1, 0, 3) + [RESUME, 1, 0]
                             + [RUN, 1, 0, RUN, 1],
    # Edge-triggered: a write while paused is reported after resume(); a
    # write while muted is reported after the unmute.
    "pause_mute_edge": [ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN_ET, 1) + [PAUSE, 0, 0]
                       + write(0) + [RUN, 0, RESUME, 0, 0, RUN, 0, 0, RUN, 0]
                       + via_id(MODIFY, 0, 0, 1, M_NONE, 2) + write(0) + [RUN, 0]
                       + via_id(MODIFY, 0, 0, 1, M_IN_ET, 3) + [RUN, 0, 0, RUN, 0],
    # A one-shot event dropped by a pause is re-armed by resume(); one that
    # process() received stays disarmed.
    "oneshot_pause": [ADD_SUB, 1, 0, CREATE, 0] + via_id(ADD, 1, 0, 0, M_IN_ONESHOT, 1) + write(0)
                     + [PAUSE, 1, 0, RUN, 1, RESUME, 1, 0, RUN, 1, 0, PAUSE, 1, 0, RESUME, 1, 0, RUN, 1],
    # process() pauses another subscriber and itself; a request resumes them
    # through its SubscriberOps; paused() and subscriber_count() along the way.
    "pause_from_callbacks": [ADD_SUB, 0, 0, ADD_SUB, 0, 0, CREATE, 0] + via_id(ADD, 0, 0, 0, M_IN, 1)
                            + via_id(ADD, 0, 1, 0, M_IN, 2) + write(0) + write(1) + [FIRE, 0]
                            + [RUN, 0, 2, PAUSE, 0, 1, PAUSE, 0, 0, 2, RESUME, 0, 0, 0, RESUME, 0, 1, 0]
                            + [PAUSED, 0, 0, RUN, 0, 0, 0],
    # A subscriber paused while its manager has no timer yet, then given a due
    # timer: the timer must wait for resume(). (Found by the fuzzer: the pause
    # skipped the timer list when the manager had no timers, so the new timer
    # was not parked and fired to the paused subscriber.)
    "paused_before_first_timer": [ADD_SUB, 0, 0, PAUSE, 0, 0] + add_timer((0, 0), 7) + arm((0, 0), 0, A_AT0)
                                 + [RUN, 0, 0],
    # A timer's process() throws: the other due timer fires in the next run.
    "timer_throws": [ADD_SUB, 1, 2] + add_timer(SELF, 1) + add_timer(SELF, 2) + arm((1, 0), 0, A_AT0)
                    + arm((1, 0), 1, A_AT0) + [FIRE, 1, RUN, 1, 21, RUN, 1, 0, 0],
})

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes(b & 0xFF for b in data))
print(f"{len(seeds)} seeds written to {here}")
