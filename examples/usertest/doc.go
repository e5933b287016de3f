// Package usertest is a user's own test built on the public test helper
// (github.com/simboard/simboard/boardtest): firmware logic prototyped in Go
// runs on a board in a Lab, against the lab's mail host, and the Lab checks
// at cleanup that every pool is balanced and no goroutine leaked.
// TestSensorReportsEveryMinute runs the same logic in virtual time
// (boardtest.LabOptions.Virtual): half an hour of reports in well under a
// second of wall time.
//
// tests/external copies this package into a module outside this repository
// (with a replace to the checkout) and runs it there, which proves the
// public packages are usable by others.
package usertest
