// Command controlplane is a multi-call binary bundling a real
// kube-apiserver, kube-controller-manager and etcd, built from the upstream
// Go modules (k8s.io/kubernetes and go.etcd.io/etcd/server/v3). It exists so
// that kasprop's integration tests can run a genuine control plane without
// Docker, kind or prebuilt downloads.
//
// The component is selected by the first argument or, when the binary is
// invoked through a symlink/copy named after a component, by argv[0]:
//
//	controlplane kube-apiserver [flags...]
//	controlplane kube-controller-manager [flags...]
//	controlplane etcd [flags...]
//	controlplane version
//
// Each invocation runs exactly one component in its own process; only the
// executable is shared.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	_ "time/tzdata" // CronJob time zone support, as upstream's main packages do

	etcdversion "go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metric plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric registration
	"k8s.io/component-base/version"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

const usage = `usage: controlplane <component> [flags...]

components:
  kube-apiserver            run k8s.io/kubernetes/cmd/kube-apiserver
  kube-controller-manager   run k8s.io/kubernetes/cmd/kube-controller-manager
  etcd                      run go.etcd.io/etcd/server/v3 (etcdmain)
  version                   print the bundled versions

The component may also be selected by argv[0] (symlink named after it).
`

func main() {
	os.Exit(run(os.Args))
}

func run(argv []string) int {
	name := strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	args := argv[1:]
	if !isComponent(name) {
		if len(args) == 0 {
			fmt.Fprint(os.Stderr, usage)
			return 2
		}
		name, args = args[0], args[1:]
	}

	switch name {
	case "kube-apiserver":
		cmd := apiserverapp.NewAPIServerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "kube-controller-manager":
		cmd := kcmapp.NewControllerManagerCommand()
		cmd.SetArgs(args)
		return cli.Run(cmd)
	case "etcd":
		// etcdmain.Main expects a full argv (it parses args[1:]) and exits
		// the process itself on fatal errors.
		etcdmain.Main(append([]string{"etcd"}, args...))
		return 0
	case "version", "--version", "-version":
		fmt.Printf("kubernetes %s\netcd-server %s\n", version.Get().GitVersion, etcdversion.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "controlplane: unknown component %q\n\n%s", name, usage)
		return 2
	}
}

func isComponent(name string) bool {
	switch name {
	case "kube-apiserver", "kube-controller-manager", "etcd":
		return true
	}
	return false
}
