// Package limits tests nook as a judge's sandbox, through the built
// binary: cgroup limits, rlimits, CPU and wall time limits, and the
// verdict. Each test is a case a judge meets (a fork bomb, a memory hog, a
// busy loop, a sleeper, a program that writes too much) and checks the
// verdict, the measurements and that nothing is left behind.
package limits
