#pragma once
// Calls whichever hooks a callback implements: on_begin(RunInfo), on_step(StepInfo[, run]) -> [bool], on_end(Result);
// a callable taking a StepInfo (a lambda) is an on_step.
#include <concepts>
#include <cstdint>
#include <string>
#include <typeinfo>

#include "zeroth/optimizer/result.hpp"

namespace zeroth {

/// What a run is about to do; passed to on_begin.
struct RunInfo {
  std::size_t dimension = 0;
  std::uint64_t max_steps = 0;       ///< the steps the run can take: Options::max_steps, or fewer if max_evaluations
                                     ///< allows fewer (Run::horizon())
  std::uint64_t first_step = 0;
  int evaluations_per_step = 0;      ///< objective evaluations of a step: the estimator's and a candidate rule's
  std::uint64_t max_evaluations = 0;  ///< Options::max_evaluations (0: no limit)
};

namespace detail {

template <class C>
std::string callback_name(const C& c) {
  if constexpr (requires { { c.name() } -> std::convertible_to<std::string>; })
    return c.name();
  else
    return "a callback";
}

template <class C>
void call_begin(C& c, const RunInfo& i) {
  if constexpr (requires { c.on_begin(i); }) c.on_begin(i);
}

/// Calls c's on_step; when it asks to stop (the first to do so this step), names it in `who` and sets `why` to its
/// stop_status() where it has one (Status::stopped otherwise).
template <class C, class RunT>
bool call_step(C& c, const StepInfo& i, RunT& run, std::string& who, Status& why) {
  bool go = true;
  if constexpr (requires { { c.on_step(i, run) } -> std::convertible_to<bool>; })
    go = c.on_step(i, run);
  else if constexpr (requires { c.on_step(i, run); })
    c.on_step(i, run);
  else if constexpr (requires { { c.on_step(i) } -> std::convertible_to<bool>; })
    go = c.on_step(i);
  else if constexpr (requires { c.on_step(i); })
    c.on_step(i);
  else if constexpr (requires { { c(i) } -> std::convertible_to<bool>; })  // a lambda: its on_step
    go = c(i);
  else if constexpr (requires { c(i); })
    c(i);
  if (!go && who.empty()) {
    who = callback_name(c);
    if constexpr (requires { { c.stop_status() } -> std::convertible_to<Status>; }) why = c.stop_status();
  }
  return go;
}

/// The run argument of a method without a Run (CMAES): callbacks that take one (Checkpointer, TrajectoryRecorder) do
/// not apply to it.
struct NoRun {};

/// Whether C is a callback that needs no Run: on_begin, on_step(StepInfo), on_end or a lambda, but no
/// on_step(StepInfo, run).
template <class C>
concept StepCallback = requires(C& c, const StepInfo& i, const RunInfo& b, const Result& r, NoRun& n) {
  requires !requires { c.on_step(i, n); };
  requires requires { c.on_begin(b); } || requires { c.on_step(i); } || requires { c.on_end(r); } ||
               requires { c(i); };
};

/// Whether C is a callback at all: it has one of the hooks, or is callable with a StepInfo (a lambda's on_step).
template <class C, class RunT>
concept Callback = requires(C& c, const StepInfo& i, RunT& run, const RunInfo& b, const Result& r) {
  requires requires { c.on_begin(b); } || requires { c.on_step(i, run); } || requires { c.on_step(i); } ||
               requires { c.on_end(r); } || requires { c(i); };
};

template <class C>
void call_end(C& c, const Result& r) {
  if constexpr (requires { c.on_end(r); }) c.on_end(r);
}

}  // namespace detail
}  // namespace zeroth
