// Program otelcol-quickstep is the OTLP receiver of quickstep's trace test: an OpenTelemetry
// Collector with only the OTLP receiver and the file exporter. It is main.go and components.go
// as the Collector's builder (go.opentelemetry.io/collector/cmd/builder) writes them, except
// for the Collector's own telemetry: instead of the builder's default (otelconftelemetry, which
// brings in cloud resource detectors and metric exporters, a quarter of the build) it has none
// but a warn-level log on stderr.
package main

import (
	"context"
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// telemetryConfig is the `service.telemetry` section: nothing to set.
type telemetryConfig struct{}

func createLogger(_ context.Context, set telemetry.LoggerSettings, _ component.Config) (*zap.Logger, component.ShutdownFunc, error) {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	cfg.Encoding = "console"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	build := set.BuildZapLogger
	if build == nil {
		build = func(c zap.Config, opts ...zap.Option) (*zap.Logger, error) { return c.Build(opts...) }
	}
	logger, err := build(cfg)
	return logger, nil, err
}

func components() (otelcol.Factories, error) {
	factories := otelcol.Factories{
		Telemetry: telemetry.NewFactory(
			func() component.Config { return &telemetryConfig{} },
			telemetry.WithCreateLogger(createLogger),
		),
	}
	var err error
	if factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return otelcol.Factories{}, err
	}
	if factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](fileexporter.NewFactory()); err != nil {
		return otelcol.Factories{}, err
	}
	return factories, nil
}

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol-quickstep",
			Description: "OpenTelemetry Collector (OTLP receiver, file exporter) for quickstep's trace test",
			Version:     "0.165.0",
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{envprovider.NewFactory(), fileprovider.NewFactory()},
			},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		os.Exit(1)
	}
}
