/**
 * The standard gRPC health service (grpc.health.v1.Health/Check), which Dragonfly's dfdaemon calls before
 * using a scheduler. Its two small messages are described here in code rather than generated.
 */
import { create, createFileRegistry, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";

/** grpc.health.v1.HealthCheckResponse.ServingStatus values. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

const TYPE_STRING = 9;
const TYPE_ENUM = 14;
const LABEL_OPTIONAL = 1;

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthCheckRequest", field: [{ name: "service", number: 1, type: TYPE_STRING, label: LABEL_OPTIONAL, jsonName: "service" }] },
      {
        name: "HealthCheckResponse",
        field: [
          { name: "status", number: 1, type: TYPE_ENUM, label: LABEL_OPTIONAL, typeName: ".grpc.health.v1.HealthCheckResponse.ServingStatus", jsonName: "status" },
        ],
        enumType: [
          {
            name: "ServingStatus",
            value: Object.entries(ServingStatus).map(([name, number]) => ({ name, number })),
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" },
          {
            name: "Watch",
            inputType: ".grpc.health.v1.HealthCheckRequest",
            outputType: ".grpc.health.v1.HealthCheckResponse",
            serverStreaming: true,
          },
        ],
      },
    ],
  }),
  () => undefined,
);

/** The grpc.health.v1.Health service descriptor. */
export const HealthService: DescService = registry.getService("grpc.health.v1.Health")!;
/** The HealthCheckResponse message descriptor. */
export const HealthCheckResponseDesc: DescMessage = registry.getMessage("grpc.health.v1.HealthCheckResponse")!;

/**
 * Mounts grpc.health.v1.Health: Check answers SERVING for the empty (whole-server) service name and for
 * each of `services` while `serving()` holds; Watch is not offered.
 */
export function healthRoutes(router: ConnectRouter, services: readonly string[], serving: () => boolean = () => true): void {
  router.service(HealthService, {
    check: async (request: { service?: string }) => {
      const name = request.service ?? "";
      if (name !== "" && !services.includes(name)) throw new ConnectError(`Unknown service "${name}"`, Code.NotFound);
      return create(HealthCheckResponseDesc, { status: serving() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING });
    },
    watch: async function* () {
      throw new ConnectError("Watch is not implemented", Code.Unimplemented);
    },
  } as never);
}
