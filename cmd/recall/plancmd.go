package main

import "github.com/spf13/cobra"

func planCmd() *cobra.Command { return &cobra.Command{Use: "plan SCENARIO", Hidden: true} }

func initCmd() *cobra.Command { return &cobra.Command{Use: "init", Hidden: true} }
