package query_test

import (
	"errors"
	"fmt"

	"roadlog/schema"
	"roadlog/tools/export/query"
)

func ExampleParse() {
	q, err := query.Parse("CLASS == car and (distance < 30 or ttc < 2.5)")
	if err != nil {
		panic(err)
	}
	fmt.Println(q.String(), "reads", q.Table())
	o := &schema.Object{Class: 2, Label: "car", Distance: 42, TTC: 1.8}
	fmt.Println(q.Match(&query.Row{Object: o}))

	_, err = query.Parse("class = car and distnce < 30")
	var se *query.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(err)
		fmt.Println(se.Caret())
	}
	// Output:
	// class = car and (distance < 30 or ttc < 2.5) reads objects
	// true
	// query:1:17: unknown field "distnce" (did you mean distance?)
	// class = car and distnce < 30
	//                 ^
}
