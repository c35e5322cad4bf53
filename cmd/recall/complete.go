package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/recall-drills/recall/internal/scenario"
)

// setCompletions completes --set with the paths of the values in the scenario given as the
// first argument, list items of named things (components, faults) by name, followed by "=".
func setCompletions(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 || strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	paths := scalarPaths(args[0])
	var out []cobra.Completion
	for _, p := range paths {
		if strings.HasPrefix(p, toComplete) {
			out = append(out, p+"=")
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// scalarPaths lists the --set paths of the scalars in the scenario file at path (none if it
// cannot be read).
func scalarPaths(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var doc yaml.Node
	if err := yaml.NewDecoder(io.LimitReader(f, scenario.MaxFileSize)).Decode(&doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	var out []string
	var walk func(n *yaml.Node, p string, depth int)
	walk = func(n *yaml.Node, p string, depth int) {
		if depth > 12 {
			return
		}
		switch n.Kind {
		case yaml.ScalarNode:
			if p != "" {
				out = append(out, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if p != "" {
					k = p + "." + k
				}
				walk(n.Content[i+1], k, depth+1)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				sel := fmt.Sprint(i)
				if name := mappingName(item); name != "" {
					sel = name
				}
				walk(item, fmt.Sprintf("%s[%s]", p, sel), depth+1)
			}
		}
	}
	walk(doc.Content[0], "", 0)
	slices.Sort(out)
	return slices.Compact(out)
}

func mappingName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}
