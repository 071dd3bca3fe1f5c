package core

import (
	"bytes"
	"slices"

	"github.com/gowsgi/gowsgi/internal/h1"
)

// Finding the repeats of a request header among a request's header fields
// or CGI variables, so that their values are joined (see separator) in
// time that grows with their number n as n log n, not n²: a client that
// sends 32,000 header lines must not cost 32,000² name comparisons. The
// few headers of a common request are compared pairwise, which is the
// cheapest for them; beyond smallRepeats names, their indices are sorted
// by name instead.

// smallRepeats is the most names compared pairwise: 16 names are 120
// comparisons, most of them ending at the lengths.
const smallRepeats = 16

// repeats links the entries of the same name, in their order. For an
// entry i that is the first of its name, link[i] is the index of the next
// entry of that name (0 when it comes once); for a later one, link[i] is
// ^(the index of the next one), ^0 at the last. The first is where the
// joined value goes; the later ones are skipped.
type repeats struct {
	link  []int32
	order []int32 // the entries' indices sorted by name (many names only)
}

// keepRepeats bounds the links kept between requests: a request of many
// headers does not leave every later one holding its memory.
const keepRepeats = 1024

// reset makes room for n entries, none linked.
func (rp *repeats) reset(n int) {
	if cap(rp.link) < n {
		rp.link = make([]int32, n)
	}
	rp.link = rp.link[:n]
	clear(rp.link)
	rp.order = rp.order[:0]
}

// release lets go of links grown for a request of many headers.
func (rp *repeats) release() {
	if cap(rp.link) > keepRepeats {
		rp.link, rp.order = nil, nil
	}
}

// add links entry j after the entry last of the same name, first being
// the first of them.
func (rp *repeats) add(first, last, j int) {
	if last == first {
		rp.link[first] = int32(j)
	} else {
		rp.link[last] = ^int32(j)
	}
	rp.link[j] = ^0
}

// repeated reports whether entry i repeats an earlier one (it is skipped).
func (rp *repeats) repeated(i int) bool { return rp.link[i] < 0 }

// next is the entry of the same name after i, 0 if none.
func (rp *repeats) next(i int) int {
	if l := rp.link[i]; l < 0 {
		return int(^l)
	} else {
		return int(l)
	}
}

// linkSorted links the entries of rp.order, which sort by name and, for
// one name, by index: same(a, b) tells whether entries a and b have the
// same name.
func (rp *repeats) linkSorted(same func(a, b int) bool) {
	for k := 0; k < len(rp.order); {
		first := int(rp.order[k])
		last := first
		k++
		for ; k < len(rp.order) && same(first, int(rp.order[k])); k++ {
			j := int(rp.order[k])
			rp.add(first, last, j)
			last = j
		}
	}
}

// linkFields links the header fields of the same name, ignoring case.
func (rp *repeats) linkFields(fields []h1.Field) {
	rp.reset(len(fields))
	same := func(a, b int) bool {
		return len(fields[a].Name) == len(fields[b].Name) && h1.EqualFoldBytes(fields[a].Name, fields[b].Name)
	}
	if len(fields) <= smallRepeats {
		for i := range fields {
			if rp.repeated(i) {
				continue
			}
			last := i
			for j := i + 1; j < len(fields); j++ {
				if same(i, j) {
					rp.add(i, last, j)
					last = j
				}
			}
		}
		return
	}
	for i := range fields {
		rp.order = append(rp.order, int32(i))
	}
	slices.SortFunc(rp.order, func(a, b int32) int {
		if c := compareFold(fields[a].Name, fields[b].Name); c != 0 {
			return c
		}
		return int(a - b)
	})
	rp.linkSorted(same)
}

// linkVars links the header variables (isHeaderVar) of the same name;
// the other variables are left unlinked. It returns how many header
// variables there are.
func (rp *repeats) linkVars(vars [][2][]byte) int {
	rp.reset(len(vars))
	headers := 0
	for i := range vars {
		if isHeaderVar(vars[i][0]) {
			headers++
			rp.order = append(rp.order, int32(i))
		}
	}
	same := func(a, b int) bool { return string(vars[a][0]) == string(vars[b][0]) }
	if headers <= smallRepeats {
		for k, i := range rp.order {
			if rp.repeated(int(i)) {
				continue
			}
			last := int(i)
			for _, j := range rp.order[k+1:] {
				if same(int(i), int(j)) {
					rp.add(int(i), last, int(j))
					last = int(j)
				}
			}
		}
		return headers
	}
	slices.SortFunc(rp.order, func(a, b int32) int {
		if c := bytes.Compare(vars[a][0], vars[b][0]); c != 0 {
			return c
		}
		return int(a - b)
	})
	rp.linkSorted(same)
	return headers
}

// compareFold orders two ASCII names ignoring case.
func compareFold(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := lowerASCII(a[i]), lowerASCII(b[i])
		if x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
