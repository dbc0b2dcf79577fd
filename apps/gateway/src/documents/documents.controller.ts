import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IsogateError } from '@isogate/isolation';
import { Roles } from '../auth/decorators.js';
import { bodySchema, ZodPipe } from '../validation/zod.pipe.js';
import {
  batchDocumentsSchema,
  createDocumentSchema,
  DOCUMENT_ID,
  listDocumentsSchema,
  type BatchDocumentsBody,
  type CreateDocumentBody,
  type DocumentSummary,
  type DocumentView,
  type ListDocumentsQuery,
} from './document.schemas.js';
import { DocumentsService, type BatchItem, type WrittenDocument } from './documents.service.js';

/** An id that cannot name any document answers 404, like one of another tenant. */
function documentId(id: string): string {
  if (!DOCUMENT_ID.test(id)) throw new IsogateError('not_found', 'Document not found');
  return id;
}

@ApiTags('documents')
@ApiBearerAuth()
@Controller('v1/documents')
export class DocumentsController {
  constructor(@Inject(DocumentsService) private readonly documents: DocumentsService) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Add a document, or replace the one with the same id' })
  @ApiBody({ schema: bodySchema(createDocumentSchema) })
  create(
    @Body(new ZodPipe(createDocumentSchema)) body: CreateDocumentBody,
  ): Promise<WrittenDocument> {
    return this.documents.put(body);
  }

  @Post('batch')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Add or replace many documents; one result per item' })
  @ApiBody({ schema: bodySchema(batchDocumentsSchema) })
  batch(
    @Body(new ZodPipe(batchDocumentsSchema)) body: BatchDocumentsBody,
  ): Promise<{ data: BatchItem[] }> {
    return this.documents.putBatch(body.documents).then((data) => ({ data }));
  }

  @Get()
  @Roles('user', 'admin')
  @ApiOperation({ summary: "List the tenant's documents" })
  list(
    @Query(new ZodPipe(listDocumentsSchema)) query: ListDocumentsQuery,
  ): Promise<{ data: DocumentSummary[]; next_cursor: string | null }> {
    return this.documents.list(query);
  }

  @Get(':id')
  @Roles('user', 'admin')
  @ApiOperation({ summary: 'Get a document with its stored text' })
  get(@Param('id') id: string): Promise<DocumentView> {
    return this.documents.get(documentId(id));
  }

  @Delete(':id')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Delete a document from every store' })
  remove(@Param('id') id: string): Promise<{ id: string; deleted: true }> {
    return this.documents.delete(documentId(id));
  }
}
