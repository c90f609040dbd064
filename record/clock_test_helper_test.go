package record

import "roadlog/sync/clock"

func hostNow() int64 { return clock.HostNow() }
