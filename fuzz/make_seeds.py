#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/ (run from anywhere).

The encoding is the one model_fuzzer.cpp's do_op() reads: one byte picks the
operation (value % 20), the following bytes its operands. Operand bytes that
pick an fd index the candidate list [open eventfds by number, M0 table fds,
M1 table fds, /dev/null, the manager's own epoll fd, a closed number].
"""
import os

ADD, MODIFY, REMOVE, REGISTERED = 0, 1, 2, 3
CREATE, CLOSE, DUP, WRITE, READ = 4, 5, 6, 7, 9
ADD_SUB, REMOVE_SUB, FIRE, RUN, KICK, CALL_BLOCKING, SUB_MUT = 10, 11, 12, 13, 15, 16, 17
M_NONE, M_IN, M_OUT, M_INOUT, M_IN_ET, M_IN_ONESHOT, M_INOUT_ET = range(7)


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

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes(b & 0xFF for b in data))
print(f"{len(seeds)} seeds written to {here}")
