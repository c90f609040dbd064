package main

import "strings"

// isCobraUsage recognises the errors cobra itself returns for an unknown command or
// flag before any of our code runs. Cobra has no typed errors for these, so this is
// the one place roadlog looks at an error's text.
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.HasPrefix(s, "invalid argument")
}
